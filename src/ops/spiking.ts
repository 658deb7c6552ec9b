// Spiking neurons (IF, SignedIF, multi-level) and the readout that integrates spikes over T (SPEC §2).
import type { LowerCtx, OpDef } from './op.js';
import { numAttr, strAttr } from './op.js';

export const NEURON_KINDS = ['IF', 'SignedIF'] as const;
export type NeuronKind = (typeof NEURON_KINDS)[number];

/**
 * Integrate-and-fire with soft reset, unrolled over T steps, on a membrane measured in units of
 * θ/levels. For IF v₀ = θ/2 and it fires when v > θ; for SignedIF v₀ = 0 and it fires ±1 when
 * |v| > θ/2; both reset by subtraction, so counts round to nearest (SPEC §2). Written on the shifted
 * membrane w = v/u − ½ (IF) or v/u (SignedIF), both become: w += x_t; s_t = clip(round(w), lo, hi);
 * w −= s_t. A multi-level neuron (levels k > 1) may emit an integer in [−k, k] per step.
 */
function lowerNeuronSnn(ctx: LowerCtx): { outputs: string[]; timed: boolean[] } {
  const { b, node } = ctx;
  const T = ctx.timesteps;
  const levels = numAttr(node, 'levels');
  const signed = strAttr(node, 'kind') === 'SignedIF';
  const width = ctx.graph.weights.get(node.weights['threshold']!)!.shape[0]!;
  // Declared shapes keep onnxruntime's memory planner linear in the unrolled graph's size.
  const declare = (name: string, steps: number): string => { b.declare(name, 'float32', [steps, 'batch', 'seq', width]); return name; };
  const unit = b.op('Div', [ctx.weight('threshold'), b.scalar(levels)], {}, node.id);
  const current = declare(b.op('Div', [ctx.timedInput(0), unit], {}, node.id), T);
  const steps = T === 1 ? [current] : b.add('Split', [current], { axis: 0 }, { scope: node.id, count: T }).map((s) => declare(s, 1));
  const lo = b.scalar(signed ? -levels : 0);
  const hi = b.scalar(levels);
  const spikes: string[] = [];
  let membrane = steps[0]!;
  for (let t = 0; t < T; t++) {
    if (t > 0) membrane = declare(b.op('Add', [membrane, steps[t]!], {}, node.id), 1);
    const s = declare(b.op('Clip', [declare(b.op('Round', [membrane], {}, node.id), 1), lo, hi], {}, node.id), 1);
    spikes.push(s);
    if (t < T - 1) membrane = declare(b.op('Sub', [membrane, s], {}, node.id), 1);
  }
  const train = T === 1 ? spikes[0]! : declare(b.op('Concat', spikes, { axis: 0 }, node.id), T);
  ctx.recordSpikes(strAttr(node, 'site'), train);
  return { outputs: [b.op('Mul', [train, unit], {}, node.id)], timed: [true] };
}

export const neuron: OpDef = {
  name: 'Neuron',
  doc: 'IF / SignedIF neuron with per-channel threshold θ (identity in the ANN)',
  numInputs: 1,
  numOutputs: 1,
  weights: ['threshold'],
  check: (node) => {
    const problems: string[] = [];
    if (!NEURON_KINDS.includes(node.attrs['kind'] as NeuronKind)) problems.push(`attribute kind must be one of ${NEURON_KINDS.join(', ')}`);
    const levels = node.attrs['levels'];
    if (typeof levels !== 'number' || !Number.isInteger(levels) || levels < 1) problems.push('attribute levels must be a positive integer');
    if (typeof node.attrs['site'] !== 'string') problems.push('attribute site must name the neuron site');
    return problems;
  },
  // In the ANN the neuron's input passes through: its value is what calibration observes.
  lowerAnn: (ctx) => [ctx.input(0)],
  snn: { kind: 'custom', lower: lowerNeuronSnn },
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
