// Plain facts read off a spiking IR graph, shared by the site facts and the operation count: layer names and timed values.
import type { Graph } from '../ir/types.js';
import { spikeAttention } from '../ops/attention.js';
import { embedding } from '../ops/linear.js';
import { isOp } from '../ops/op.js';
import { isNeuron, temporalMean } from '../ops/spiking.js';

/** `h.3.mlp.act` → layer 3, role `mlp.act`; `ln_f` → layer null. Covers GPT-2 and Llama names. */
export function layerOf(name: string): { layer: number | null; role: string } {
  const m = /^(?:(?:transformer|model)\.)?(?:h|layers)\.(\d+)\.(.+)$/.exec(name);
  return m ? { layer: Number(m[1]), role: m[2]! } : { layer: null, role: name };
}

/** Values carrying the time axis in the SNN lowering (mirrors emit/lower.ts: TD and linear ops keep their inputs' axis). */
export function timedValues(graph: Graph): Set<string> {
  const timed = new Set<string>();
  for (const n of graph.nodes) {
    const any = n.inputs.some((v) => timed.has(v));
    const outs = isNeuron(n) ? [true]
      : isOp(n, temporalMean, embedding) ? [false]
        : isOp(n, spikeAttention) ? [true, false, false]
          : n.outputs.map(() => any);
    n.outputs.forEach((o, i) => { if (outs[i]) timed.add(o); });
  }
  return timed;
}
