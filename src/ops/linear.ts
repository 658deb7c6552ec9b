// Linear layers and embeddings: the weight multiplies, linear in their input and so exact over time.
import { weightData } from '../weights/weight-data.js';
import type { Node, Weight } from '../ir/types.js';
import type { LowerCtx, Lowered, OpDef } from './op.js';
import { boolAttr, numAttr, requireNumbers } from './op.js';
import { nafMax, unitCount } from './spike-code.js';
import { exactSign } from './exact-int.js';
import { planSynapse, type SynapsePlan } from './synapse.js';

const LINEAR = 'Linear';

/** A Linear's attributes: its feature counts, and whether W is stored [out, in] (`transposed`). */
export interface LinearAttrs {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly transposed: boolean;
}

/** The typed attributes of a Linear node, or null for any other op. */
export function linearAttrs(node: Node): LinearAttrs | null {
  if (node.op !== LINEAR) return null;
  return { inFeatures: numAttr(node, 'inFeatures'), outFeatures: numAttr(node, 'outFeatures'), transposed: boolAttr(node, 'transposed') };
}

/**
 * y = x·W (+ b). `transposed` means W is stored [out, in] (nn.Linear, tied LM heads): lowered as Gemm
 * with transB so the stored weight is used in place, never copied.
 */
function lowerLinearAnn(ctx: LowerCtx): string[] {
  const { b, node } = ctx;
  const hasBias = node.weights['bias'] !== undefined;
  const { inFeatures: inF, outFeatures: outF, transposed } = linearAttrs(node)!;
  if (!transposed) {
    const y = b.op('MatMul', [ctx.input(0), ctx.weight('weight')], {}, node.id);
    return [hasBias ? b.op('Add', [y, ctx.weight('bias')], {}, node.id) : y];
  }
  const x = ctx.input(0);
  const shape = b.op('Shape', [x], {}, node.id);
  const leadShape = b.op('Slice', [shape, b.ints([0]), b.ints([-1]), b.ints([0])], {}, node.id);
  const flat = b.op('Reshape', [x, b.ints([-1, inF])], {}, node.id);
  const gemmIn = hasBias ? [flat, ctx.weight('weight'), ctx.weight('bias')] : [flat, ctx.weight('weight')];
  const y = b.op('Gemm', gemmIn, { transB: 1 }, node.id);
  const outShape = b.op('Concat', [leadShape, b.ints([outF])], { axis: 0 }, node.id);
  return [b.op('Reshape', [y, outShape], {}, node.id)];
}

/**
 * Weighted code: a Linear fed by a neuron is an integer synapse (ops/synapse.ts): the neuron's count
 * times integer weights (an INT8/INT16 initializer cast to float: exact sums), then the per-output
 * scale and the bias. Any other Linear, or one whose bound cannot be certified, keeps float weights.
 */
function lowerLinearClosed(ctx: LowerCtx): Lowered {
  const { b, node } = ctx;
  const source = ctx.countOf(0);
  const M = nafMax(ctx.timesteps);
  const unitM = unitCount(ctx.timesteps, ctx.graph.spiking?.headroom ?? 0);
  const plan = source && ctx.graph.spiking?.code === 'weighted' ? synapsePlan(ctx, node, source.thresholdWeight, unitM, M) : null;
  if (!source || !plan) {
    if (!source) return { outputs: lowerLinearAnn(ctx), timed: [false] };
    // Float weights: the Linear reads u·q, rebuilt from the count (the neuron may hand out q alone).
    ctx.recordSynapse({ node: node.id, kind: 'float', bits: null, bound: null, groups: null });
    const value = b.op('Mul', [source.count, b.op('Div', [source.threshold, b.scalar(unitM)], {}, node.id)], {}, node.id);
    return { outputs: lowerLinearAnn({ ...ctx, input: () => value }), timed: [false] };
  }
  const { synapse, groups, chunkBits } = plan;
  ctx.recordSynapse({ node: node.id, kind: 'integer', bits: synapse.bits, bound: synapse.bound, groups });
  const name = `${node.id}.synapse`;
  const { inFeatures, outFeatures } = linearAttrs(node)!;
  b.intInitializer(`${name}.weight`, [inFeatures, outFeatures], synapse.weights);
  b.initializer(`${name}.scale`, [synapse.scale.length], synapse.scale);
  const weights = b.op('Cast', [`${name}.weight`], { to: 1 }, node.id);
  const accumulated = groups === 1 ? b.op('MatMul', [source.count, weights], {}, node.id) : groupedProduct(ctx, source.count, weights, groups, chunkBits);
  const scaled = b.op('Mul', [accumulated, `${name}.scale`], {}, node.id);
  return { outputs: [node.weights['bias'] !== undefined ? b.op('Add', [scaled, ctx.weight('bias')], {}, node.id) : scaled], timed: [false] };
}

type PlanCache = WeakMap<Weight, WeakMap<Weight, Map<string, SynapsePlan | null>>>;

/**
 * Plans already made while `withSynapsePlans` runs, by the weight and threshold objects they were made
 * from (a graph's weights are immutable values): every form of a bundle (six) quantizes each Linear
 * once. Outside it every emission quantizes anew, so no session keeps a second, integer copy of the
 * weights alive for as long as its graph lives.
 */
let activePlans: PlanCache | null = null;

/** Runs `emit` (synchronous emissions of one graph) with one synapse plan per Linear shared by all of them. */
export function withSynapsePlans<R>(emit: () => R): R {
  const outer = activePlans;
  activePlans ??= new WeakMap();
  try {
    return emit();
  } finally {
    activePlans = outer;
  }
}

/** The Linear's synapse plan for a neuron with threshold `threshold` and unit θ/`unitDivisor`, counts up to `maxCount`. */
function synapsePlan(ctx: LowerCtx, node: Node, threshold: string, unitDivisor: number, maxCount: number): SynapsePlan | null {
  const weight = ctx.graph.weights.get(node.weights['weight']!)!;
  const theta = ctx.graph.weights.get(threshold)!;
  const attrs = linearAttrs(node)!;
  const plan = () => planSynapse({ weight: weightData(weight), ...attrs, unit: Float32Array.from(weightData(theta), (t) => Math.fround(t / unitDivisor)) }, maxCount);
  if (!activePlans) return plan();
  const key = `${unitDivisor}|${maxCount}|${attrs.inFeatures}|${attrs.outFeatures}|${attrs.transposed}`;
  let byTheta = activePlans.get(weight);
  if (!byTheta) activePlans.set(weight, byTheta = new WeakMap());
  let byKey = byTheta.get(theta);
  if (!byKey) byTheta.set(theta, byKey = new Map());
  if (!byKey.has(key)) byKey.set(key, plan());
  return byKey.get(key)!;
}

/**
 * Rate code: a Linear fed directly by a neuron's train is an integer synapse applied at every step:
 * the spikes s_t (integers in [−levels, levels]) times integer weights, the folded W·u with u = θ/levels
 * quantized per output channel (ops/synapse.ts; certified exact for counts up to `levels`), then the
 * per-output scale and the bias at every step: y_t = s_j·Σ_k w_kj·s_t,k + b_j. Null when the input is
 * not a neuron's train or no synapse can be certified whole (the caller keeps float weights).
 */
export function lowerLinearRate(ctx: LowerCtx): Lowered | null {
  const { b, node } = ctx;
  const source = ctx.countOf(0);
  const producer = ctx.graph.nodes.find((n) => n.outputs.includes(node.inputs[0]!));
  if (!source || !producer || !ctx.isTimed(0) || ctx.graph.spiking?.code === 'weighted') return null;
  const levels = numAttr(producer, 'levels');
  const plan = synapsePlan(ctx, node, source.thresholdWeight, levels, levels);
  if (!plan || plan.groups !== 1) {
    ctx.recordSynapse({ node: node.id, kind: 'float', bits: null, bound: null, groups: null });
    return null;
  }
  const { synapse } = plan;
  ctx.recordSynapse({ node: node.id, kind: 'integer', bits: synapse.bits, bound: synapse.bound, groups: 1 });
  const name = `${node.id}.synapse`;
  const { inFeatures, outFeatures } = linearAttrs(node)!;
  b.intInitializer(`${name}.weight`, [inFeatures, outFeatures], synapse.weights);
  b.initializer(`${name}.scale`, [synapse.scale.length], synapse.scale);
  const accumulated = b.op('MatMul', [source.count, b.op('Cast', [`${name}.weight`], { to: 1 }, node.id)], {}, node.id);
  const scaled = b.op('Mul', [accumulated, `${name}.scale`], {}, node.id);
  return { outputs: [node.weights['bias'] !== undefined ? b.op('Add', [scaled, ctx.weight('bias')], {}, node.id) : scaled], timed: [true] };
}

/**
 * Σ_g 2^(c·g)·(q_g·W) for the parts q_g = sign(q)·(⌊|q|/2^(cg)⌋ mod 2^c): one MatMul over the parts
 * stacked on the batch axis (the weights are read once), each part's sums exact; the recombination is
 * elementwise, so it does not depend on shapes either.
 */
function groupedProduct(ctx: LowerCtx, count: string, weights: string, groups: number, chunkBits: number): string {
  const { b, node } = ctx;
  const magnitude = b.op('Abs', [count], {}, node.id);
  const sign = exactSign(b, count, ctx.portable, node.id);
  const above = (g: number) => b.op('Floor', [b.op('Mul', [magnitude, b.scalar(2 ** -(chunkBits * g))], {}, node.id)], {}, node.id);
  const parts = Array.from({ length: groups }, (_, g) => {
    const part = g === groups - 1 ? above(g) : b.op('Sub', [above(g), b.op('Mul', [above(g + 1), b.scalar(2 ** chunkBits)], {}, node.id)], {}, node.id);
    return b.op('Mul', [part, sign], {}, node.id);
  });
  const products = b.add('Split', [b.op('MatMul', [b.op('Concat', parts, { axis: 0 }, node.id), weights], {}, node.id)], { axis: 0 }, { scope: node.id, count: groups });
  return products.reduce((acc, p, g) => (g === 0 ? p : b.op('Add', [acc, b.op('Mul', [p, b.scalar(2 ** (chunkBits * g))], {}, node.id)], {}, node.id)), '');
}

export const linear: OpDef = {
  name: LINEAR,
  doc: 'y = x·W + b; W is [in, out], or [out, in] when transposed',
  numInputs: 1,
  numOutputs: 1,
  weights: ['weight', 'bias?'],
  check: (node) => [...requireNumbers(node, ['inFeatures', 'outFeatures']), ...(typeof node.attrs['transposed'] === 'boolean' ? [] : ['attribute transposed must be a boolean'])],
  lowerAnn: lowerLinearAnn,
  snn: { kind: 'linear' },
  closed: lowerLinearClosed,
};

/** Token and position embeddings: a table lookup. In a spiking graph the row is the input current, constant over T. */
export const embedding: OpDef = {
  name: 'Embedding',
  doc: 'rows of a table looked up by integer ids',
  numInputs: 1,
  numOutputs: 1,
  weights: ['table'],
  check: () => [],
  lowerAnn: (ctx) => [ctx.b.op('Gather', [ctx.weight('table'), ctx.input(0)], { axis: 0 }, ctx.node.id)],
  snn: {
    kind: 'custom',
    // Untimed on purpose: consumers broadcast it over T (direct input encoding, x_t = x).
    lower: (ctx) => ({ outputs: [ctx.b.op('Gather', [ctx.weight('table'), ctx.input(0)], { axis: 0 }, ctx.node.id)], timed: [false] }),
  },
};
