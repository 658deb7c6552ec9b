// attention-to-spike: Attention → SpikeAttention (TD over running means, T-aggregated KV cache).
import type { Graph } from '../ir/types.js';
import { renameOp, rewrite, type PassResult } from './rewrite.js';

export function replaceAttentionWithSpike(graph: Graph): PassResult {
  return rewrite(graph, [renameOp('attention→spike', 'Attention', 'SpikeAttention')]);
}
