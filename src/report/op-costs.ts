// The operation count: one walk over the spiking IR counts, per token, the FP32 ANN, the SNN and the W8A8
// INT8 ANN of the same model by the same rules; energy.ts prices each operation by its width.
//
// Per token, over windows of W tokens (each position j sees j + 1 keys, L̄ = (W + 1)/2 on average):
// - a Linear fed by spikes is a synaptic op (SOP) per spike and target (an integer add at the certified
//   accumulator width); the weighted code adds one doubling per output per step (the 2^k weighting,
//   Horner's rule), one conversion of the accumulator to float and one fp32 multiply by the output's scale s_j;
// - every neuron costs x/u (a multiply), a rounding (an add) and a clip (two compares) per channel, the
//   θ/M divide per channel, one membrane update per channel per step, and u·q (a multiply) where a float op reads it;
// - every other multiply-accumulate is an fp32 MAC (the attention products multiply rescaled counts u·q
//   with float K/V: what the emitted graph executes); every elementwise add/compare, multiply and
//   transcendental (exp, tanh/erf, sqrt, reciprocal) is counted, with the MAC-equivalents in energy.ts;
// - the INT8 ANN quantizes at the same sites (x/u, round, clip, conversion to int8), runs every Linear
//   fed by a site as int8 MACs plus the conversion and scale per output, and everything else as the ANN.
// Rate coding runs its TD operators (norms, activations, SwiGLU product, attention) at every one of
// the T steps, plus the running-mean and difference arithmetic; the weighted code runs every
// nonlinear op once per token on integrated values (Stöckl & Maass 2021), so those costs equal the ANN's.
import type { Graph, Node } from '../ir/types.js';
import { producers } from '../ir/values.js';
import { valueWidth } from '../ops/value-width.js';
import { mul } from '../ops/arith.js';
import { attention, attentionAttrs, spikeAttention } from '../ops/attention.js';
import { embedding, linear, linearAttrs } from '../ops/linear.js';
import { isOp } from '../ops/op.js';
import { isNeuron, neuronsOf, temporalMean } from '../ops/spiking.js';
import { layerOf, timedValues } from './graph-walk.js';
import type { OpCostRecord, OpCounts } from './types.js';

export const ZERO: OpCounts = { macs: 0, sops: 0, adds: 0, mults: 0, transcendentals: 0, membrane: 0, intAdds: 0, intMacs: 0, conversions: 0 };

function combine(f: (key: keyof OpCounts) => number): OpCounts {
  return { macs: f('macs'), sops: f('sops'), adds: f('adds'), mults: f('mults'), transcendentals: f('transcendentals'), membrane: f('membrane'), intAdds: f('intAdds'), intMacs: f('intMacs'), conversions: f('conversions') };
}

export function addCounts(a: OpCounts, b: OpCounts): OpCounts {
  return combine((key) => a[key] + b[key]);
}

export function scaleCounts(a: OpCounts, k: number): OpCounts {
  return combine((key) => a[key] * k);
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
  /** Neuron outputs that some op other than a Linear (directly or through the readout) reads as a float u·q. */
  readonly floatReaders: ReadonlySet<string>;
}

type Side = 'ann' | 'snn' | 'int8';

/**
 * SOPs one spike of `node`'s input `i` triggers (per event of value ±1), and why. Linear: outFeatures.
 * Weighted attention: none: the graph multiplies the rescaled counts u·q with float K/V (fp32 MACs).
 * Rate attention and the readout: 1 accumulate into a running sum.
 */
export function spikeFanOut(node: Node, _input: number, code: 'weighted' | 'rate', _window: number): { fanOut: number; rule: string } {
  const linearNode = linearAttrs(node);
  if (linearNode) {
    const out = linearNode.outFeatures;
    return { fanOut: out, rule: `${node.id}: ${out} accumulates per spike (outFeatures)` };
  }
  if (isOp(node, spikeAttention) && code === 'weighted') return { fanOut: 0, rule: `${node.id}: the attention products take u·q as a float operand (fp32 MACs, no SOP)` };
  if (isOp(node, spikeAttention, temporalMean)) return { fanOut: 1, rule: `${node.id}: 1 accumulate per spike into a running sum; the products after it are float` };
  return { fanOut: 1, rule: `${node.id} (${node.op}): 1 per spike (elementwise)` };
}

function attentionCounts(w: Walk, node: Node, side: Side, spikesPerToken: (value: string) => number): { counts: OpCounts; why: string } {
  const { numHeads: H, numKvHeads: KVH, headDim: hd, ropeTheta } = attentionAttrs(node)!;
  const rope = ropeTheta !== null;
  const L = (w.window + 1) / 2;
  const softmax = counts({ mults: 2 * H * L, adds: H * L, transcendentals: H * L + H });
  const ropeCost = rope ? counts({ mults: 2 * (H + KVH) * hd, adds: (H + KVH) * hd }) : ZERO;
  const product = H * hd * L;
  const ann = addCounts(addCounts(counts({ macs: 2 * product }), softmax), ropeCost);
  if (side !== 'snn' || w.code === 'ann') return { counts: ann, why: 'Q·Kᵀ and P·V over L̄ visible keys (fp32), scale + softmax, RoPE' };
  if (w.code === 'rate') {
    // Every step: both products on running means, the own-key correction, softmax; plus TD arithmetic on the output.
    const perStep = addCounts(addCounts(counts({ macs: 2 * product + 2 * H * hd }), softmax), addCounts(ropeCost, TD_OVERHEAD(H * hd)));
    const accumulate = counts({ sops: [0, 1, 2].reduce((a, i) => a + spikesPerToken(node.inputs[i]!), 0) });
    return { counts: addCounts(scaleCounts(perStep, w.T), accumulate), why: `rate: T=${w.T} × (Q·Kᵀ and P·V on running means + own-key correction + softmax + TD arithmetic); Q/K/V spikes accumulate into running sums` };
  }
  return { counts: ann, why: 'weighted: Q·Kᵀ and P·V on the rescaled counts u·q (fp32 MACs, as the graph runs them), scale + softmax once per token' };
}

/** A neuron site: quantizer arithmetic (x/u, round, clip, θ/M) per channel, and u·q where a float op reads it. */
function neuronCounts(w: Walk, node: Node, side: Side): { counts: OpCounts; why: string } | null {
  if (side === 'ann') return null;
  const D = w.widthOf(node.inputs[0]!);
  const rescale = w.floatReaders.has(node.outputs[0]!) ? D : 0;
  const quantize = counts({ mults: 2 * D + rescale, adds: 3 * D });
  if (side === 'int8') return { counts: addCounts(quantize, counts({ conversions: D })), why: 'quantize to int8 (x/u, round, clip, θ/M) and convert' };
  if (w.code === 'rate') {
    return { counts: counts({ membrane: D * w.T, mults: D * (2 * w.T + 1), adds: 3 * D * w.T }), why: `rate: per step x_t/u, round, clip and a membrane update (${D} × T=${w.T}), u·s_t out, θ/levels` };
  }
  return { counts: addCounts(quantize, counts({ membrane: D * w.T })), why: `x/u, round, clip, θ/M per channel${rescale ? ', u·q for float readers' : ''}; one membrane update per channel per step (${D} × T=${w.T})` };
}

function linearCounts(w: Walk, node: Node, side: Side, spikesPerToken: (value: string) => number): { counts: OpCounts; why: string } {
  const { inFeatures: inF, outFeatures: outF } = linearAttrs(node)!;
  const bias = node.weights['bias'] !== undefined ? outF : 0;
  const input = node.inputs[0]!;
  const fromSite = w.siteOf.has(input);
  if (side === 'ann' || !fromSite) {
    const steps = side === 'snn' && w.code === 'rate' && w.timed.has(input) ? w.T : 1;
    return { counts: counts({ macs: inF * outF * steps, adds: bias * steps }), why: `in × out fp32 MACs + bias adds${steps > 1 ? ' at every step' : ''}` };
  }
  if (side === 'int8') return { counts: counts({ intMacs: inF * outF, conversions: outF, mults: outF, adds: bias }), why: 'in × out int8 MACs (int32 sums), per output a conversion, the scale and the bias' };
  if (w.code === 'rate') {
    // The integer synapse at every step (ops/linear.ts lowerLinearRate): SOPs, then per output a conversion, the scale and the bias.
    const steps = w.timed.has(input) ? w.T : 1;
    return { counts: counts({ sops: spikesPerToken(input) * outF, conversions: outF * steps, mults: outF * steps, adds: bias * steps }), why: `spike-driven: spikes × ${outF} SOPs, per output a conversion, the scale s_j and the bias${steps > 1 ? ' at every step' : ''}` };
  }
  return {
    counts: counts({ sops: spikesPerToken(input) * outF, intAdds: (w.T - 1) * outF, conversions: outF, mults: outF, adds: bias }),
    why: `spike-driven: spikes × ${outF} SOPs, ${w.T - 1} doublings per output (2^k weighting), per output a conversion, the scale s_j and the bias`,
  };
}

function nodeCounts(w: Walk, node: Node, side: Side, spikesPerToken: (value: string) => number): { counts: OpCounts; why: string } | null {
  const rate = side === 'snn' && w.code === 'rate';
  if (isNeuron(node)) return neuronCounts(w, node, side);
  switch (node.op) {
    case linear.name: return linearCounts(w, node, side, spikesPerToken);
    case attention.name: case spikeAttention.name: return attentionCounts(w, node, side, spikesPerToken);
    case temporalMean.name: {
      if (!rate) return null;
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
  /** Tokens per window (the report's window; docs/design.md §6 asks for the model's context length). */
  readonly window: number;
  /** Spikes per token of each neuron site's output value (Σ|value| over T, averaged over tokens). */
  readonly spikesPerToken: (value: string) => number;
}

/**
 * Values that carry spikes, by site: every neuron output, and for the weighted code the readout
 * (TemporalMean) of one, which is the identity on the count the LM head reads.
 */
export function spikeValues(graph: Graph): Map<string, string> {
  const sites = new Map(neuronsOf(graph.nodes).map(({ node: n, attrs }) => [n.outputs[0]!, attrs.site]));
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
  const spikeSource = new Map(graph.nodes.filter(isNeuron).map((n) => [n.outputs[0]!, n.outputs[0]!]));
  for (const n of graph.nodes) if (isOp(n, temporalMean) && code === 'weighted' && siteOf.has(n.outputs[0]!)) spikeSource.set(n.outputs[0]!, spikeSource.get(n.inputs[0]!)!);
  const spikesPerToken = (v: string) => opts.spikesPerToken(spikeSource.get(v) ?? v);
  const w: Walk = {
    graph, code, T: graph.spiking?.timesteps ?? 1, window: opts.window,
    widthOf: (v) => valueWidth(graph, v, byValue),
    timed: code === 'rate' ? timedValues(graph) : new Set(),
    siteOf, floatReaders: floatReaders(graph, spikeSource),
  };
  const records: OpCostRecord[] = [];
  for (const node of graph.nodes) {
    const ann = nodeCounts(w, node, 'ann', spikesPerToken);
    const snn = nodeCounts(w, node, 'snn', spikesPerToken);
    const int8 = nodeCounts(w, node, 'int8', spikesPerToken);
    if (!ann && !snn && !int8) continue;
    records.push({ node: node.id, op: node.op, layer: layerOf(node.id).layer, ann: ann?.counts ?? ZERO, snn: snn?.counts ?? ZERO, int8: int8?.counts ?? ZERO, why: snn?.why ?? ann!.why });
  }
  return records;
}

/** Neuron outputs read as floats (u·q) by an op other than a Linear or the weighted readout. */
function floatReaders(graph: Graph, spikeSource: ReadonlyMap<string, string>): Set<string> {
  const readers = new Set<string>();
  for (const n of graph.nodes) {
    if (isOp(n, linear, temporalMean)) continue;
    for (const v of n.inputs) { const src = spikeSource.get(v); if (src) readers.add(src); }
  }
  return readers;
}
