// What the report reads off the spiking IR: each neuron site's fan-out, and the weight-multiply work of ANN and SNN.
import type { Graph, Node } from '../ir/types.js';
import type { MacRecord } from './types.js';

export interface SiteFacts {
  readonly site: string;
  readonly layer: number | null;
  readonly role: string;
  readonly kind: string;
  readonly levels: number;
  readonly channels: number;
  readonly node: Node;
  /** The IR value feeding the neuron (its input current). */
  readonly input: string;
  /** The ONNX output carrying the site's spikes ([T, B, S, D] integers). */
  readonly output: string;
  readonly fanOut: number;
  readonly fanOutRule: string;
  readonly consumers: readonly string[];
}

/** `h.3.mlp.act` → layer 3, role `mlp.act`; `ln_f` → layer null. Covers GPT-2 and Llama names. */
export function layerOf(name: string): { layer: number | null; role: string } {
  const m = /^(?:(?:transformer|model)\.)?(?:h|layers)\.(\d+)\.(.+)$/.exec(name);
  return m ? { layer: Number(m[1]), role: m[2]! } : { layer: null, role: name };
}

/**
 * What one spike of a site costs downstream, per consumer:
 * - Linear: `outFeatures` accumulates (the weight row of the spiking channel is added to every output);
 * - SpikeAttention (Q, K, V): 1 accumulate into the channel's running sum; the score and value products
 *   act on those running means in float and are counted as float MACs of the attention, T times per token;
 * - TemporalMean (the readout): 1 accumulate into the spike count; the LM head then runs once per token
 *   on the count and is counted as float MACs;
 * - anything else: 1 (an elementwise use).
 */
function fanOutOf(consumers: readonly Node[]): { fanOut: number; rule: string } {
  let fanOut = 0;
  const parts: string[] = [];
  for (const c of consumers) {
    if (c.op === 'Linear') {
      const out = c.attrs['outFeatures'] as number;
      fanOut += out;
      parts.push(`${c.id}: ${out} accumulates per spike (outFeatures)`);
    } else if (c.op === 'SpikeAttention') {
      fanOut += 1;
      parts.push(`${c.id}: 1 accumulate per spike into the running mean; its score and value products are float MACs`);
    } else if (c.op === 'TemporalMean') {
      fanOut += 1;
      parts.push(`${c.id}: 1 accumulate per spike into the readout count; the head after it is float MACs`);
    } else {
      fanOut += 1;
      parts.push(`${c.id} (${c.op}): 1 per spike (elementwise)`);
    }
  }
  return { fanOut, rule: parts.join('; ') || 'no consumer' };
}

/** Every Neuron of a spiking graph, in graph order, with its fan-out. */
export function neuronSites(graph: Graph): SiteFacts[] {
  return graph.nodes.filter((n) => n.op === 'Neuron').map((node) => {
    const site = node.attrs['site'] as string;
    const spikes = node.outputs[0]!;
    const consumers = graph.nodes.filter((c) => c.inputs.includes(spikes));
    const { fanOut, rule } = fanOutOf(consumers);
    const threshold = graph.weights.get(node.weights['threshold']!);
    return {
      site, ...layerOf(site), kind: node.attrs['kind'] as string, levels: node.attrs['levels'] as number,
      channels: threshold?.shape[0] ?? 0, node, input: node.inputs[0]!, output: `spikes/${site}`,
      fanOut, fanOutRule: rule, consumers: consumers.map((c) => c.id),
    };
  });
}

/** Values carrying the time axis in the SNN lowering (mirrors emit/lower.ts: TD and linear ops keep their inputs' axis). */
export function timedValues(graph: Graph): Set<string> {
  const timed = new Set<string>();
  for (const n of graph.nodes) {
    const any = n.inputs.some((v) => timed.has(v));
    const outs = n.op === 'Neuron' ? [true]
      : n.op === 'TemporalMean' || n.op === 'Embedding' ? [false]
        : n.op === 'SpikeAttention' ? [true, false, false]
          : n.outputs.map(() => any);
    n.outputs.forEach((o, i) => { if (outs[i]) timed.add(o); });
  }
  return timed;
}

/**
 * MACs of every weight-multiply node for `windows` uncached windows of `seq` tokens, ANN vs SNN.
 * Attention counts the causally visible keys only (Σ_j (j+1) per window), on both sides alike.
 * SpikeAttention recomputes its score and value products at every one of the T steps, plus the
 * own-key score and value correction (2 · heads · headDim per query and step).
 */
export function countMacs(graph: Graph, seq: number, windows: number): MacRecord[] {
  const T = graph.spiking?.timesteps ?? 1;
  const timed = timedValues(graph);
  const spikeValues = new Set(graph.nodes.filter((n) => n.op === 'Neuron').map((n) => n.outputs[0]!));
  const tokens = seq * windows;
  const visible = (windows * seq * (seq + 1)) / 2;
  const records: MacRecord[] = [];
  for (const n of graph.nodes) {
    const { layer } = layerOf(n.id);
    if (n.op === 'Linear') {
      const per = (n.attrs['inFeatures'] as number) * (n.attrs['outFeatures'] as number);
      const input = n.inputs[0]!;
      const [snn, why] = spikeValues.has(input) ? [0, 'spike-driven: counted as SOPs at its input site']
        : timed.has(input) ? [per * tokens * T, 'float input at every step: in × out × T per token']
          : [per * tokens, 'float input once per token (T-aggregated): in × out per token'];
      records.push({ node: n.id, op: n.op, layer, annMacs: per * tokens, snnFloatMacs: snn, why });
    } else if (n.op === 'Attention' || n.op === 'SpikeAttention') {
      const hd = (n.attrs['numHeads'] as number) * (n.attrs['headDim'] as number);
      const ann = 2 * hd * visible;
      const spiking = n.op === 'SpikeAttention';
      records.push({
        node: n.id, op: n.op, layer, annMacs: ann,
        snnFloatMacs: spiking ? T * (ann + 2 * hd * tokens) : ann,
        why: spiking ? 'Q·Kᵀ and P·V on running means at every step (T × per token), plus the own-key score and value correction' : 'Q·Kᵀ and P·V once per token',
      });
    }
  }
  return records;
}
