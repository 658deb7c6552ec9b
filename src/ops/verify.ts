// The graph invariants of src/ir/verify.ts, checked against the op registry.
import type { Graph } from '../ir/types.js';
import { assertValidWith, verifyGraphWith } from '../ir/verify.js';
import { findOp } from './registry.js';

/** Every problem in `graph` (unknown ops, arity, undefined inputs, missing weights, attributes). */
export function verifyGraph(graph: Graph): string[] {
  return verifyGraphWith(graph, findOp);
}

/** Returns `graph`, or throws its problems as one GRAPH_INVALID error naming `stage`. */
export function assertValid(graph: Graph, stage: string): Graph {
  return assertValidWith(graph, stage, findOp);
}
