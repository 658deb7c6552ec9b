// gelu-to-relu: the stac recipe's first step — ReLU is what an IF neuron's firing rate computes.
import type { Graph } from '../ir/types.js';
import { rewrite, type PassResult } from './rewrite.js';
import { gelu, relu } from '../ops/activation.js';
import { isOp } from '../ops/op.js';

/** Replaces every GELU by ReLU. Lossy: the model was trained with GELU (the stac recipe reports the loss). */
export function replaceGeluWithRelu(graph: Graph): PassResult {
  return rewrite(graph, [{ name: 'gelu→relu', apply: (n) => (isOp(n, gelu) ? { nodes: [{ ...n, op: relu.name, attrs: {} }] } : null) }]);
}
