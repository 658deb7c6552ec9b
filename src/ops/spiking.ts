// Spiking neurons (IF, SignedIF, multi-level; rate or weighted code) and the readout that integrates spikes over T (docs/design.md §2).
import type { OnnxBuilder } from '../onnx/onnx-builder.js';
import type { LowerCtx, Lowered, OpDef } from './op.js';
import type { Node } from '../ir/types.js';
import { choiceAttr, numAttr, strAttr } from './op.js';
import { exactRound, exactSign } from './exact-int.js';
import { nafMax, unitCount, type SpikeCode } from './spike-code.js';

export const NEURON_KINDS = ['IF', 'SignedIF'] as const;
export type NeuronKind = (typeof NEURON_KINDS)[number];

const NEURON = 'Neuron';

/** A neuron's attributes: IF or SignedIF, the largest integer it emits per step (rate code), and its site name. */
export interface NeuronAttrs {
  readonly kind: NeuronKind;
  readonly levels: number;
  readonly site: string;
}

/** True for a Neuron node: how code outside ops/ finds neurons (no op-name strings there). */
export function isNeuron(node: { readonly op: string }): boolean {
  return node.op === NEURON;
}

/** The typed attributes of a Neuron node, or null for any other op. */
export function neuronAttrs(node: Node): NeuronAttrs | null {
  if (!isNeuron(node)) return null;
  return { kind: choiceAttr(node, 'kind', NEURON_KINDS), levels: numAttr(node, 'levels'), site: strAttr(node, 'site') };
}

/** The neurons of a graph in graph order, with their typed attributes. */
export function neuronsOf(nodes: readonly Node[]): { readonly node: Node; readonly attrs: NeuronAttrs }[] {
  return nodes.flatMap((node) => { const attrs = neuronAttrs(node); return attrs ? [{ node, attrs }] : []; });
}

/** A Neuron node reading `input` (the passes insert them), its threshold the weight `threshold`. */
export function neuronNode(id: string, input: string, output: string, attrs: NeuronAttrs, threshold: string): Node {
  return { id, op: NEURON, inputs: [input], outputs: [output], attrs: { ...attrs }, weights: { threshold } };
}

function codeOf(ctx: LowerCtx): SpikeCode {
  return ctx.graph.spiking?.code ?? 'rate';
}

function widthOf(ctx: LowerCtx): number {
  return ctx.graph.weights.get(ctx.node.weights['threshold']!)!.shape[0]!;
}

/**
 * Rate code: integrate-and-fire with soft reset, unrolled over T steps, on a membrane measured in
 * units of θ/levels. For IF v₀ = θ/2 and it fires when v > θ; for SignedIF v₀ = 0 and it fires ±1 when
 * |v| > θ/2; both reset by subtraction, so counts round to nearest (docs/design.md §2). Written on the shifted
 * membrane w = v/u − ½ (IF) or v/u (SignedIF), both become: w += x_t; s_t = clip(round(w), lo, hi);
 * w −= s_t. A multi-level neuron (levels k > 1) may emit an integer in [−k, k] per step. A step
 * saturates when round(w) falls outside [lo, hi]; those steps are counted per site.
 */
function lowerRateSteps(ctx: LowerCtx): Lowered {
  const { b, node } = ctx;
  const T = ctx.timesteps;
  const levels = numAttr(node, 'levels');
  const signed = strAttr(node, 'kind') === 'SignedIF';
  const width = widthOf(ctx);
  // Declared shapes keep onnxruntime's memory planner linear in the unrolled graph's size.
  const declare = (name: string, steps: number): string => { b.declare(name, 'float32', [steps, 'batch', 'seq', width]); return name; };
  const unit = b.op('Div', [ctx.weight('threshold'), b.scalar(levels)], {}, node.id);
  const current = declare(b.op('Div', [ctx.timedInput(0), unit], {}, node.id), T);
  const steps = T === 1 ? [current] : b.add('Split', [current], { axis: 0 }, { scope: node.id, count: T }).map((s) => declare(s, 1));
  const lo = b.scalar(signed ? -levels : 0);
  const hi = b.scalar(levels);
  const spikes: string[] = [];
  const clipped: string[] = [];
  let membrane = steps[0]!;
  for (let t = 0; t < T; t++) {
    if (t > 0) membrane = declare(b.op('Add', [membrane, steps[t]!], {}, node.id), 1);
    const rounded = declare(b.op('Round', [membrane], {}, node.id), 1);
    const s = declare(b.op('Clip', [rounded, lo, hi], {}, node.id), 1);
    spikes.push(s);
    if (ctx.exposeSpikes) clipped.push(b.op('Cast', [b.op('Not', [b.op('Equal', [rounded, s])])], { to: 1 }, node.id));
    if (t < T - 1) membrane = declare(b.op('Sub', [membrane, s], {}, node.id), 1);
  }
  const train = T === 1 ? spikes[0]! : declare(b.op('Concat', spikes, { axis: 0 }, node.id), T);
  const site = strAttr(node, 'site');
  ctx.recordSpikes(site, train);
  if (ctx.exposeSpikes) ctx.recordSaturation(site, b.op('ReduceSum', [T === 1 ? clipped[0]! : b.op('Concat', clipped, { axis: 0 }, node.id), b.ints([0])], { keepdims: 0 }, node.id));
  const out = b.op('Mul', [train, unit], {}, node.id);
  // Linears reading the train take the spikes themselves (integer synapses, ops/linear.ts lowerLinearRate).
  ctx.recordCount(out, train);
  return { outputs: [out], timed: [true] };
}

/**
 * Weighted code, shared by both forms: the count q = clip(round(x/u), lo, M_T) with the unit
 * u = θ/M_(T−h): θ is the top of the calibrated range and the h headroom digits extend it to ~2^h·θ.
 */
function weightedCount(ctx: LowerCtx, integrated: string): { q: string; unit: string; saturated: string | null } {
  const { b, node } = ctx;
  const M = nafMax(ctx.timesteps);
  const unit = b.op('Div', [ctx.weight('threshold'), b.scalar(unitCount(ctx.timesteps, ctx.graph.spiking?.headroom ?? 0))], {}, node.id);
  const scaled = b.op('Div', [integrated, unit], {}, node.id);
  const rounded = exactRound(b, scaled, ctx.portable, node.id);
  const lo = strAttr(node, 'kind') === 'SignedIF' ? -M : 0;
  const q = b.op('Clip', [rounded, b.scalar(lo), b.scalar(M)], {}, node.id);
  const saturated = ctx.exposeSpikes || ctx.exposeSaturation ? b.op('Cast', [b.op('Not', [b.op('Equal', [rounded, q], {}, node.id)], {}, node.id)], { to: 1 }, node.id) : null;
  return { q, unit, saturated };
}

/** Step t's weight 2^(T−1−t) for t = 0..T−1, as a [T, 1, 1, 1] constant. */
function stepWeights(b: OnnxBuilder, T: number): string {
  return b.constant({ dtype: 'float32', dims: [T, 1, 1, 1], values: Array.from({ length: T }, (_, t) => 2 ** (T - 1 - t)) });
}

/**
 * The NAF digits of every count at once ([T, B, S, D], most significant first): with a = |q|, digit k
 * = bit_{k+1}(3a) − bit_{k+1}(a), times sign(q) (the x ⊕ 3x identity for the NAF). As bit_j(n) =
 * ⌊n/2^j⌋ − 2⌊n/2^(j+1)⌋, every digit is a fixed ±1, ±2 combination of the floors ⌊3a/2^j⌋ and ⌊a/2^j⌋,
 * j = 1 … T (j = T+1 is 0: |q| ≤ M_T, so 3a < 2^(T+1)): one Floor over both, then one MatMul by those
 * coefficients gives all T planes (4 passes over the planes' size instead of 14 for parities taken
 * plane by plane; the report's spike pass spends most of its time here). Every value is an integer
 * below 2^24, so the floors, the products and their sums are exact in float32: the same integers as
 * the step-by-step neuron.
 */
function nafPlanes(ctx: LowerCtx, q: string): string {
  const { b, node } = ctx;
  const T = ctx.timesteps;
  const J = T;
  const a = b.op('Abs', [q], {}, node.id);
  // [2, 1, B, S, D]: 3a and a, each scaled by 2^−j for j = T … 1 ([1, J, 1, 1, 1]) and floored.
  const both = b.op('Concat', [b.op('Unsqueeze', [b.op('Mul', [a, b.scalar(3)], {}, node.id), b.ints([0, 1])], {}, node.id), b.op('Unsqueeze', [a, b.ints([0, 1])], {}, node.id)], { axis: 0 }, node.id);
  const shifts = b.constant({ dtype: 'float32', dims: [1, J, 1, 1, 1], values: Array.from({ length: J }, (_, i) => 2 ** -(J - i)) });
  const floors = b.op('Reshape', [b.op('Floor', [b.op('Mul', [both, shifts], {}, node.id)], {}, node.id), b.ints([2 * J, -1])], {}, node.id);
  // Plane t (k = T−1−t) reads j = k+1 (index t) and j = k+2 (index t−1): (F3 − Fa)[t] − 2·(F3 − Fa)[t−1].
  const coefficients = new Float32Array(T * 2 * J);
  for (let t = 0; t < T; t++) {
    for (const [part, sign] of [[0, 1], [1, -1]] as const) {
      coefficients[t * 2 * J + part * J + t] = sign;
      if (t > 0) coefficients[t * 2 * J + part * J + t - 1] = -2 * sign;
    }
  }
  const digits = b.op('MatMul', [b.constant({ dtype: 'float32', dims: [T, 2 * J], values: coefficients }), floors], {}, node.id);
  const shape = b.op('Concat', [b.ints([T]), b.op('Shape', [q], {}, node.id)], { axis: 0 }, node.id);
  const planes = b.op('Mul', [b.op('Reshape', [digits, shape], {}, node.id), exactSign(b, q, ctx.portable, node.id)], {}, node.id);
  b.declare(planes, 'float32', [T, 'batch', 'seq', widthOf(ctx)]);
  return planes;
}

/** True when every consumer of the neuron is a Linear, or a readout whose consumers all are. */
function readOnlyBySynapses(ctx: LowerCtx): boolean {
  const consumersOf = (value: string) => ctx.graph.nodes.filter((n) => n.inputs.includes(value));
  return consumersOf(ctx.node.outputs[0]!).every((c) => c.op === 'Linear' || (c.op === 'TemporalMean' && consumersOf(c.outputs[0]!).every((d) => d.op === 'Linear')));
}

/**
 * Weighted code, closed (T-parallel) form: the neuron is the count q·u; its T digit planes are
 * computed from q in parallel only when spikes are exposed. Equal to the step-by-step neuron below
 * (same integers; tested on real inputs).
 */
function lowerWeightedClosed(ctx: LowerCtx): Lowered {
  const { q, unit, saturated } = weightedCount(ctx, ctx.input(0));
  const site = strAttr(ctx.node, 'site');
  if (ctx.exposeSpikes) ctx.recordSpikes(site, nafPlanes(ctx, q));
  if (saturated) ctx.recordSaturation(site, saturated);
  // Read only by synapses (directly or through the readout): they take the count itself, so u·q is not built.
  const out = readOnlyBySynapses(ctx) ? q : ctx.b.op('Mul', [q, unit], {}, ctx.node.id);
  ctx.recordCount(out, q);
  return { outputs: [out], timed: [false] };
}

/**
 * Weighted code, step by step (the reference): the neuron takes its integrated input, rounds it to
 * the count q, then at step t fires sign(r) when the remaining count |r| exceeds M_k (k = T−1−t) and
 * subtracts the digit's weight 2^k. The synapses downstream accumulate the events with their weights,
 * Σ_t 2^k·s_t, an exact integer sum, and the next layer reads u times it: by linearity the same as
 * accumulating W·s_t step by step, and bit-identical to the closed form (same integers, same float ops).
 */
function lowerWeightedSteps(ctx: LowerCtx): Lowered {
  const { b, node } = ctx;
  const T = ctx.timesteps;
  const width = widthOf(ctx);
  const { q, unit, saturated } = weightedCount(ctx, ctx.input(0));
  const spikes: string[] = [];
  let rest = q;
  for (let t = 0; t < T; t++) {
    const k = T - 1 - t;
    const fires = b.op('Cast', [b.op('Greater', [b.op('Abs', [rest], {}, node.id), b.scalar(nafMax(k))], {}, node.id)], { to: 1 }, node.id);
    const s = b.op('Mul', [exactSign(b, rest, ctx.portable, node.id), fires], {}, node.id);
    spikes.push(b.op('Unsqueeze', [s, b.ints([0])], {}, node.id));
    if (k > 0) rest = b.op('Sub', [rest, b.op('Mul', [s, b.scalar(2 ** k)], {}, node.id)], {}, node.id);
  }
  const train = T === 1 ? spikes[0]! : b.op('Concat', spikes, { axis: 0 }, node.id);
  b.declare(train, 'float32', [T, 'batch', 'seq', width]);
  const site = strAttr(node, 'site');
  ctx.recordSpikes(site, train);
  if (saturated) ctx.recordSaturation(site, saturated);
  const count = b.op('ReduceSum', [b.op('Mul', [train, stepWeights(b, T)], {}, node.id), b.ints([0])], { keepdims: 0 }, node.id);
  const out = b.op('Mul', [count, unit], {}, node.id);
  ctx.recordCount(out, count);
  return { outputs: [out], timed: [false] };
}

export const neuron: OpDef = {
  name: NEURON,
  doc: 'IF / SignedIF neuron with per-channel threshold θ (identity in the ANN)',
  numInputs: 1,
  numOutputs: 1,
  weights: ['threshold'],
  check: (node) => {
    const problems: string[] = [];
    if (!(NEURON_KINDS as readonly unknown[]).includes(node.attrs['kind'])) problems.push(`attribute kind must be one of ${NEURON_KINDS.join(', ')}`);
    const levels = node.attrs['levels'];
    if (typeof levels !== 'number' || !Number.isInteger(levels) || levels < 1) problems.push('attribute levels must be a positive integer');
    if (typeof node.attrs['site'] !== 'string') problems.push('attribute site must name the neuron site');
    return problems;
  },
  // In the ANN the neuron's input passes through: its value is what calibration observes.
  lowerAnn: (ctx) => [ctx.input(0)],
  snn: { kind: 'custom', lower: (ctx) => (codeOf(ctx) === 'weighted' ? lowerWeightedSteps(ctx) : lowerRateSteps(ctx)) },
  closed: lowerWeightedClosed,
};

/** The readout: the mean over T of a spiking signal (exact before a linear head: the head commutes with it). */
export const temporalMean: OpDef = {
  name: 'TemporalMean',
  doc: 'mean over the T steps (identity in the ANN)',
  numInputs: 1,
  numOutputs: 1,
  weights: [],
  check: () => [],
  lowerAnn: (ctx) => [ctx.input(0)],
  snn: {
    kind: 'custom',
    lower: (ctx) => (ctx.isTimed(0)
      ? { outputs: [ctx.b.op('ReduceMean', [ctx.input(0)], { axes: [0], keepdims: 0 }, ctx.node.id)], timed: [false] }
      : { outputs: [ctx.input(0)], timed: [false] }),
  },
};
