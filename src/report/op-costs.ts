// SPEC §6's operation count: one walk over the spiking IR prices the ANN and the SNN by the same rules.
//
// Per token, over windows of W tokens (each position j sees j + 1 keys, L̄ = (W + 1)/2 on average):
// - a product with a spike operand is a synaptic op (SOP): spikes × fan-out, a k-valued event counting |k|;
// - every other multiply-accumulate is a float MAC; every elementwise add/compare, multiply and
//   transcendental (exp, tanh/erf, sqrt, reciprocal) is counted, with the MAC-equivalents in PRICES;
// - the SNN adds one membrane update per neuron per step.
// Rate coding runs its TD operators (norms, activations, SwiGLU product, attention) at every one of
// the T steps, plus the running-mean and difference arithmetic; the weighted code runs every
// nonlinear op once per token on integrated values (Stöckl & Maass 2021), so those costs equal the ANN's.
import type { Graph, Node } from '../ir/types.js';
import { producers } from '../ir/values.js';
import { valueWidth } from '../ops/value-width.js';
import { layerOf, timedValues } from './graph-facts.js';
import type { OpCostRecord, OpCounts } from './types.js';
import { mul } from '../ops/arith.js';
import { attention, attentionAttrs, spikeAttention } from '../ops/attention.js';
import { embedding, linear, linearAttrs } from '../ops/linear.js';
import { isOp } from '../ops/op.js';
import { isNeuron, neuronsOf, temporalMean } from '../ops/spiking.js';

/** pJ per operation, Horowitz (ISSCC 2014), 45 nm fp32; a transcendental is priced as 4 MACs. */
export const PRICES = { mac: 4.6, sop: 0.9, add: 0.9, mult: 3.7, transcendental: 4 * 4.6, membrane: 0.9 } as const;

export const ZERO: OpCounts = { macs: 0, sops: 0, adds: 0, mults: 0, transcendentals: 0, membrane: 0 };

export function addCounts(a: OpCounts, b: OpCounts): OpCounts {
  return { macs: a.macs + b.macs, sops: a.sops + b.sops, adds: a.adds + b.adds, mults: a.mults + b.mults, transcendentals: a.transcendentals + b.transcendentals, membrane: a.membrane + b.membrane };
}

export function scaleCounts(a: OpCounts, k: number): OpCounts {
  return { macs: a.macs * k, sops: a.sops * k, adds: a.adds * k, mults: a.mults * k, transcendentals: a.transcendentals * k, membrane: a.membrane * k };
}

export function picojoules(c: OpCounts): number {
  return c.macs * PRICES.mac + c.sops * PRICES.sop + c.adds * PRICES.add + c.mults * PRICES.mult + c.transcendentals * PRICES.transcendental + c.membrane * PRICES.membrane;
}

const counts = (c: Partial<OpCounts>): OpCounts => ({ ...ZERO, ...c });

/** Elementwise cost per element of each nonlinear op in its ANN form. */
const ELEMENTWISE: Readonly<Record<string, (width: number) => OpCounts>> = {
  // mean (D adds), centre (D), square (D mults), variance (D adds), normalise (D mults), affine (D mults, D adds), 1 rsqrt.
  LayerNorm: (D) => counts({ adds: 4 * D, mults: 3 * D, transcendentals: 1 }),
  // square (D mults), mean (D adds), 1 rsqrt, normalise and scale (2D mults).
  RMSNorm: (D) => counts({ adds: D, mults: 3 * D, transcendentals: 1 }),
  // x·½·(1 + erf(x/√2)): 3 mults, 1 add, 1 transcendental per element.
  Gelu: (D) => counts({ adds: D, mults: 3 * D, transcendentals: D }),
  Relu: (D) => counts({ adds: D }),
  // x·σ(x): exp and reciprocal (2 transcendentals), 1 add, 1 mult.
  Silu: (D) => counts({ adds: D, mults: D, transcendentals: 2 * D }),
  Mul: (D) => counts({ mults: D }),
  Add: (D) => counts({ adds: D }),
};
const ANN_NAME: Readonly<Record<string, string>> = { SpikeLayerNorm: 'LayerNorm', SpikeRMSNorm: 'RMSNorm' };

/** Running mean and temporal difference around a TD op, per element and step: 2 adds, 3 mults. */
const TD_OVERHEAD = (D: number): OpCounts => counts({ adds: 2 * D, mults: 3 * D });

interface Walk {
  readonly graph: Graph;
  readonly code: 'weighted' | 'rate' | 'ann';
  readonly T: number;
  readonly window: number;
  readonly widthOf: (value: string) => number;
  readonly timed: ReadonlySet<string>;
  /** Site name of a neuron output value. */
  readonly siteOf: ReadonlyMap<string, string>;
}

/**
 * SOPs one spike of `node`'s input `i` triggers (per event of value ±1), and why. Linear: outFeatures.
 * Weighted attention: a Q spike adds ±k into each of the L̄ visible scores (not with RoPE: the
 * rotation by the query's position leaves Q·Kᵀ no spike operand); a V spike adds ±p into the
 * outputs of the `group` query heads of each of the L̄ queries that see it; K's count is cached and
 * enters the score product on Q's side. Rate attention and the readout: 1 accumulate into a running sum.
 */
export function spikeFanOut(node: Node, input: number, code: 'weighted' | 'rate', window: number): { fanOut: number; rule: string } {
  const visible = (window + 1) / 2;
  const linear = linearAttrs(node);
  if (linear) {
    const out = linear.outFeatures;
    return { fanOut: out, rule: `${node.id}: ${out} accumulates per spike (outFeatures)` };
  }
  if (isOp(node, spikeAttention) && code === 'weighted') {
    const a = attentionAttrs(node)!;
    const rope = a.ropeTheta !== null;
    const group = a.numHeads / a.numKvHeads;
    if (input === 0) return rope ? { fanOut: 0, rule: `${node.id}: RoPE rotates Q after the neuron, so Q·Kᵀ is counted as float MACs` } : { fanOut: visible, rule: `${node.id}: each Q spike adds ±k to the L̄ = ${visible} visible scores` };
    if (input === 1) return { fanOut: 0, rule: `${node.id}: K's count is cached; the score product is counted on Q's side${rope ? ' (as float MACs: RoPE)' : ''}` };
    return { fanOut: group * visible, rule: `${node.id}: each V spike adds ±p to the outputs of ${group} query head(s) × L̄ = ${visible} queries` };
  }
  if (isOp(node, spikeAttention, temporalMean)) return { fanOut: 1, rule: `${node.id}: 1 accumulate per spike into a running sum; the products after it are float` };
  return { fanOut: 1, rule: `${node.id} (${node.op}): 1 per spike (elementwise)` };
}

function attentionCounts(w: Walk, node: Node, side: 'ann' | 'snn', spikesPerToken: (value: string) => number): { counts: OpCounts; why: string } {
  const { numHeads: H, numKvHeads: KVH, headDim: hd, ropeTheta } = attentionAttrs(node)!;
  const rope = ropeTheta !== null;
  const L = (w.window + 1) / 2;
  const softmax = counts({ mults: 2 * H * L, adds: H * L, transcendentals: H * L + H });
  const ropeCost = rope ? counts({ mults: 2 * (H + KVH) * hd, adds: (H + KVH) * hd }) : ZERO;
  const product = H * hd * L;
  const ann = addCounts(addCounts(counts({ macs: 2 * product }), softmax), ropeCost);
  if (side === 'ann' || w.code === 'ann') return { counts: ann, why: 'Q·Kᵀ and P·V over L̄ visible keys, scale + softmax, RoPE' };
  if (w.code === 'rate') {
    // Every step: both products on running means, the own-key correction, softmax; plus TD arithmetic on the output.
    const perStep = addCounts(addCounts(counts({ macs: 2 * product + 2 * H * hd }), softmax), addCounts(ropeCost, TD_OVERHEAD(H * hd)));
    const accumulate = counts({ sops: [0, 1, 2].reduce((a, i) => a + spikesPerToken(node.inputs[i]!), 0) });
    return { counts: addCounts(scaleCounts(perStep, w.T), accumulate), why: `rate: T=${w.T} × (Q·Kᵀ and P·V on running means + own-key correction + softmax + TD arithmetic); Q/K/V spikes accumulate into running sums` };
  }
  const sops = [0, 1, 2].reduce((a, i) => a + spikesPerToken(node.inputs[i]!) * spikeFanOut(node, i, 'weighted', w.window).fanOut, 0);
  const scoreMacs = rope || !w.siteOf.has(node.inputs[0]!) ? product : 0;
  const valueMacs = w.siteOf.has(node.inputs[2]!) ? 0 : product;
  return {
    counts: addCounts(addCounts(counts({ sops, macs: scoreMacs + valueMacs }), softmax), ropeCost),
    why: `weighted: ${scoreMacs ? 'Q·Kᵀ float MACs (RoPE)' : 'Q·Kᵀ as SOPs of Q spikes'}, ${valueMacs ? 'P·V float MACs' : 'P·V as SOPs of V spikes'}; scale + softmax once per token on integrated scores`,
  };
}

function nodeCounts(w: Walk, node: Node, side: 'ann' | 'snn', spikesPerToken: (value: string) => number): { counts: OpCounts; why: string } | null {
  const snn = side === 'snn';
  const rate = snn && w.code === 'rate';
  if (isNeuron(node)) {
    if (!snn) return null;
    const D = w.widthOf(node.inputs[0]!);
    return { counts: counts({ membrane: D * w.T }), why: `one membrane update per channel per step (${D} × T=${w.T})` };
  }
  switch (node.op) {
    case linear.name: {
      const { inFeatures: inF, outFeatures: outF } = linearAttrs(node)!;
      const bias = node.weights['bias'] !== undefined ? outF : 0;
      const input = node.inputs[0]!;
      if (!snn) return { counts: counts({ macs: inF * outF, adds: bias }), why: 'in × out MACs + bias adds' };
      const steps = rate && w.timed.has(input) ? w.T : 1;
      if (w.siteOf.has(input)) return { counts: counts({ sops: spikesPerToken(input) * outF, adds: bias * steps }), why: `spike-driven: spikes × ${outF} SOPs + bias adds${steps > 1 ? ' at every step' : ''}` };
      return { counts: counts({ macs: inF * outF * steps, adds: bias * steps }), why: `float input${steps > 1 ? ' at every step' : ''}: in × out MACs` };
    }
    case attention.name: case spikeAttention.name: return attentionCounts(w, node, side, spikesPerToken);
    case temporalMean.name: {
      if (!snn || w.code !== 'rate') return null;
      return { counts: counts({ sops: spikesPerToken(node.inputs[0]!) }), why: 'rate readout: every spike accumulates into the count' };
    }
    case embedding.name: return { counts: counts({ adds: w.graph.spec.arch === 'gpt2' || w.graph.spec.arch === 'opt' ? w.graph.spec.hiddenSize : 0 }), why: 'lookup (+ position embedding add)' };
    default: {
      const price = ELEMENTWISE[ANN_NAME[node.op] ?? node.op];
      if (!price) return null;
      const D = w.widthOf(node.outputs[0]!);
      const base = price(D);
      const td = node.op.startsWith('Spike') || isOp(node, mul);
      const timed = w.timed.has(node.outputs[0]!);
      if (rate && timed) return { counts: scaleCounts(td ? addCounts(base, TD_OVERHEAD(D)) : base, w.T), why: `rate: at every one of T=${w.T} steps${td ? ' (TD operator: running mean + difference)' : ''}` };
      return { counts: base, why: 'elementwise, once per token' };
    }
  }
}

export interface CountOptions {
  /** Tokens per window (the report's window; SPEC §6 asks for the model's context length). */
  readonly window: number;
  /** Spikes per token of each neuron site's output value (Σ|value| over T, averaged over tokens). */
  readonly spikesPerToken: (value: string) => number;
}

/**
 * Values that carry spikes, by site: every neuron output, and for the weighted code the readout
 * (TemporalMean) of one, which is the identity on the count the LM head reads.
 */
export function spikeValues(graph: Graph): Map<string, string> {
  const sites = new Map(neuronsOf(graph.nodes).map(({ node, attrs }) => [node.outputs[0]!, attrs.site]));
  if (graph.spiking?.code === 'weighted') {
    for (const n of graph.nodes) if (isOp(n, temporalMean) && sites.has(n.inputs[0]!)) sites.set(n.outputs[0]!, sites.get(n.inputs[0]!)!);
  }
  return sites;
}

/** Per-token operation counts of every node, ANN and SNN side by side (one walk, one set of rules). */
export function countOps(graph: Graph, opts: CountOptions): OpCostRecord[] {
  const byValue = producers(graph);
  const code = graph.spiking?.code ?? 'rate';
  const siteOf = spikeValues(graph);
  const spikeSource = new Map(neuronsOf(graph.nodes).map(({ node }) => [node.outputs[0]!, node.outputs[0]!]));
  for (const n of graph.nodes) if (isOp(n, temporalMean) && code === 'weighted' && siteOf.has(n.outputs[0]!)) spikeSource.set(n.outputs[0]!, spikeSource.get(n.inputs[0]!)!);
  const spikesPerToken = (v: string) => opts.spikesPerToken(spikeSource.get(v) ?? v);
  const w: Walk = {
    graph, code, T: graph.spiking?.timesteps ?? 1, window: opts.window,
    widthOf: (v) => valueWidth(graph, v, byValue),
    timed: code === 'rate' ? timedValues(graph) : new Set(),
    siteOf,
  };
  const records: OpCostRecord[] = [];
  for (const node of graph.nodes) {
    const ann = nodeCounts(w, node, 'ann', spikesPerToken);
    const snn = nodeCounts(w, node, 'snn', spikesPerToken);
    if (!ann && !snn) continue;
    records.push({ node: node.id, op: node.op, layer: layerOf(node.id).layer, ann: ann?.counts ?? ZERO, snn: snn?.counts ?? ZERO, why: snn?.why ?? ann!.why });
  }
  return records;
}
