// layernorm-to-spike: LayerNorm/RMSNorm → their temporal-difference spiking forms (SpikeLayerNorm, SpikeRMSNorm).
import type { Graph } from '../ir/types.js';
import { renameOp, rewrite, type PassResult } from './rewrite.js';

/** Exact: the TD form's mean over T equals the norm of the mean input (docs/design.md §2). */
export function replaceLayerNormWithSpike(graph: Graph): PassResult {
  return rewrite(graph, [renameOp('layernorm→spike', 'LayerNorm', 'SpikeLayerNorm'), renameOp('rmsnorm→spike', 'RMSNorm', 'SpikeRMSNorm')]);
}
