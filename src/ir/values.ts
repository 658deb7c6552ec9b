// Facts about IR values derived from the graph: producers, consumers, and channel widths.
import { SnnError } from '../errors/index.js';
import type { Graph, Node } from './types.js';

export function producers(graph: Graph): Map<string, { node: Node; index: number }> {
  const map = new Map<string, { node: Node; index: number }>();
  for (const node of graph.nodes) node.outputs.forEach((o, index) => map.set(o, { node, index }));
  return map;
}

/** The channel width (last dimension) of a float value, from the op that produces it. */
export function valueWidth(graph: Graph, value: string, byValue = producers(graph)): number {
  const p = byValue.get(value);
  if (!p) throw new SnnError('GRAPH_INVALID', { message: `value ${value} has no producer with a known width`, at: 'valueWidth' });
  const { node, index } = p;
  const a = node.attrs;
  switch (node.op) {
    case 'Linear': return a['outFeatures'] as number;
    case 'Split': return (a['sizes'] as readonly number[])[index]!;
    case 'Embedding': return graph.weights.get(node.weights['table']!)!.shape[1]!;
    case 'Attention': case 'SpikeAttention':
      if (index === 0) return (a['numHeads'] as number) * (a['headDim'] as number);
      break;
    default: return valueWidth(graph, node.inputs[0]!, byValue);
  }
  throw new SnnError('GRAPH_INVALID', { message: `output ${index} of ${node.id} (${node.op}) has no channel width`, at: 'valueWidth' });
}
