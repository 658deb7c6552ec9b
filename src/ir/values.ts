// Facts about IR values derived from the graph: which node produces each value (widths: ops/value-width.ts).
import type { Graph, Node } from './types.js';

export function producers(graph: Graph): Map<string, { node: Node; index: number }> {
  const map = new Map<string, { node: Node; index: number }>();
  for (const node of graph.nodes) node.outputs.forEach((o, index) => map.set(o, { node, index }));
  return map;
}
