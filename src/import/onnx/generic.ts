// Lifted ops → an IR graph as they stand (no architecture template): for single ops and small graphs, e.g. ONNX's conformance tests.
import { GraphBuilder } from '../../ir/builder.js';
import type { Graph, ModelSpec, ValueInfo } from '../../ir/types.js';
import type { Lifted } from '../../ops/lift.js';
import { foldConstants } from './fold.js';
import { liftGraph } from './lift.js';
import { assertOpset, readOnnxGraph } from './read.js';
import { GraphView } from './view.js';

/**
 * Reads, folds and lifts `path`, then builds one IR node per lifted op: node ids and values keep the
 * ONNX value names, weights are named `<node id>.<role>`. `inputs` types the graph inputs.
 * @example
 * const g = importOnnxOps('layernorm.onnx', [{ name: 'X', dtype: 'float32', shape: [3, 4] }], spec);
 */
export function importOnnxOps(path: string, inputs: readonly ValueInfo[], spec: ModelSpec): Graph {
  const graph = readOnnxGraph(path);
  assertOpset(graph);
  const view = new GraphView(graph, foldConstants(graph));
  const { ops } = liftGraph(view);
  return assembleGeneric(ops, inputs, graph.outputs, spec);
}

export function assembleGeneric(ops: readonly Lifted[], inputs: readonly ValueInfo[], outputs: readonly string[], spec: ModelSpec): Graph {
  const g = new GraphBuilder(spec);
  for (const op of ops) {
    const id = op.outputs[0]!;
    const weights: Record<string, string> = {};
    for (const [role, c] of Object.entries(op.weights)) {
      weights[role] = g.addWeight({ name: `${id}.${role}`, shape: [...c.dims], source: { kind: 'data', data: c.data instanceof Float32Array ? c.data : Float32Array.from(c.data) } });
    }
    g.add(op.op, id, op.inputs, { attrs: op.attrs, weights, outputs: op.outputs });
  }
  return g.build(inputs, outputs.map((name) => ({ name, dtype: 'float32', shape: [] })));
}
