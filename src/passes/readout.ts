// readout: the LM head reads the mean of its spiking input over T (exact: the head is linear).
import { LOGITS } from '../ir/io.js';
import type { Graph, Node } from '../ir/types.js';
import type { PassResult } from './rewrite.js';
import { linear } from '../ops/linear.js';
import { isOp } from '../ops/op.js';

/** Inserts TemporalMean before the Linear that produces the logits, so the head runs once per token. */
export function insertReadout(graph: Graph): PassResult {
  const nodes: Node[] = [];
  const matched: string[] = [];
  for (const node of graph.nodes) {
    if (isOp(node, linear) && node.outputs[0] === LOGITS) {
      const mean = `${node.id}.readout`;
      nodes.push({ id: mean, op: 'TemporalMean', inputs: [node.inputs[0]!], outputs: [mean], attrs: {}, weights: {} });
      nodes.push({ ...node, inputs: [mean] });
      matched.push(`readout: ${node.id}`);
    } else {
      nodes.push(node);
    }
  }
  return { graph: { ...graph, nodes }, matched };
}
