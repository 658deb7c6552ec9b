// Graph invariants, checked after import and after every pass: ops known, values defined before use, weights present.
// The op table is injected (ir sits below ops); src/ops/verify.ts binds it to the registry.
import { SnnError } from '../errors/index.js';
import type { Graph, Node } from './types.js';

/** What the check needs to know of an op: its arity, weight roles (`name?` = optional) and attribute check. */
export interface OpSignature {
  readonly numInputs: number | readonly [number, number];
  readonly weights: readonly string[];
  readonly check: (node: Node) => string[];
}

/** Finds an op's signature by IR op name; undefined for an unknown op. */
export type OpLookup = (name: string) => OpSignature | undefined;

/** Returns every problem found; `assertValidWith` throws them as one GRAPH_INVALID error. */
export function verifyGraphWith(graph: Graph, findOp: OpLookup): string[] {
  const problems: string[] = [];
  const defined = new Set(graph.inputs.map((v) => v.name));
  const ids = new Set<string>();
  for (const node of graph.nodes) {
    const where = `node ${node.id} (${node.op})`;
    if (ids.has(node.id)) problems.push(`${where}: duplicate node id`);
    ids.add(node.id);
    const op = findOp(node.op);
    if (!op) { problems.push(`${where}: unknown op`); continue; }
    const [minIn, maxIn] = typeof op.numInputs === 'number' ? [op.numInputs, op.numInputs] : op.numInputs;
    if (node.inputs.length < minIn || node.inputs.length > maxIn) problems.push(`${where}: ${node.inputs.length} inputs, expected ${minIn === maxIn ? minIn : `${minIn}–${maxIn}`}`);
    for (const input of node.inputs) if (!defined.has(input)) problems.push(`${where}: input ${input} is used before it is defined`);
    for (const role of op.weights) {
      const optional = role.endsWith('?');
      const name = node.weights[optional ? role.slice(0, -1) : role];
      if (name === undefined) { if (!optional) problems.push(`${where}: weight role ${role} missing`); continue; }
      if (!graph.weights.has(name)) problems.push(`${where}: weight ${name} not in the graph`);
    }
    problems.push(...op.check(node).map((p) => `${where}: ${p}`));
    for (const output of node.outputs) {
      if (defined.has(output)) problems.push(`${where}: output ${output} defined twice`);
      defined.add(output);
    }
  }
  for (const out of graph.outputs) if (!defined.has(out.name)) problems.push(`graph output ${out.name} is never produced`);
  return problems;
}

export function assertValidWith(graph: Graph, stage: string, findOp: OpLookup): Graph {
  const problems = verifyGraphWith(graph, findOp);
  if (problems.length > 0) throw new SnnError('GRAPH_INVALID', { message: problems.slice(0, 10).join('; '), at: stage });
  return graph;
}
