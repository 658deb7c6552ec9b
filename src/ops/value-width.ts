// The channel width (last dimension) of an IR value, read from the typed attributes of the op that produces it.
import { SnnError } from '../errors/index.js';
import { producers } from '../ir/values.js';
import type { Graph } from '../ir/types.js';
import { split } from './arith.js';
import { attentionAttrs } from './attention.js';
import { embedding, linearAttrs } from './linear.js';
import { numsAttr } from './op.js';

/** The channel width of a float value: Linear outFeatures, a Split part, the embedding width, attention heads × headDim; other ops keep their input's. */
export function valueWidth(graph: Graph, value: string, byValue = producers(graph)): number {
  const p = byValue.get(value);
  if (!p) throw new SnnError('GRAPH_INVALID', { message: `value ${value} has no producer with a known width`, at: 'valueWidth' });
  const { node, index } = p;
  const linear = linearAttrs(node);
  if (linear) return linear.outFeatures;
  if (node.op === split.name) return numsAttr(node, 'sizes')[index]!;
  if (node.op === embedding.name) return graph.weights.get(node.weights['table']!)!.shape[1]!;
  const attention = attentionAttrs(node);
  if (attention && index === 0) return attention.numHeads * attention.headDim;
  if (attention) throw new SnnError('GRAPH_INVALID', { message: `output ${index} of ${node.id} (${node.op}) has no channel width`, at: 'valueWidth' });
  return valueWidth(graph, node.inputs[0]!, byValue);
}
