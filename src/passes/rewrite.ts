// The rewrite engine: a pass is a named table of rules; each rule sees one node and returns its replacement or nothing.
import type { Graph, Node, Weight } from '../ir/types.js';

export interface Replacement {
  /** Nodes that take the matched node's place, in order. */
  readonly nodes: readonly Node[];
  /** Weights the replacement adds. */
  readonly weights?: readonly Weight[];
}

export interface Rule {
  readonly name: string;
  readonly apply: (node: Node, graph: Graph) => Replacement | null;
}

export interface PassResult {
  readonly graph: Graph;
  /** `rule: node id` for every rewrite, in order (recorded into the bundle). */
  readonly matched: readonly string[];
}

/**
 * Applies `rules` to every node until none fires (each node is rewritten at most `maxRounds` times).
 * Never mutates `graph`.
 */
export function rewrite(graph: Graph, rules: readonly Rule[], maxRounds = 4): PassResult {
  let current = graph;
  const matched: string[] = [];
  for (let round = 0; round < maxRounds; round++) {
    const nodes: Node[] = [];
    const weights = new Map(current.weights);
    let fired = false;
    for (const node of current.nodes) {
      const hit = firstMatch(rules, node, current);
      if (!hit) { nodes.push(node); continue; }
      fired = true;
      matched.push(`${hit.rule}: ${node.id}`);
      nodes.push(...hit.replacement.nodes);
      for (const w of hit.replacement.weights ?? []) weights.set(w.name, w);
    }
    current = { ...current, nodes, weights };
    if (!fired) break;
  }
  return { graph: current, matched };
}

function firstMatch(rules: readonly Rule[], node: Node, graph: Graph): { rule: string; replacement: Replacement } | null {
  for (const rule of rules) {
    const replacement = rule.apply(node, graph);
    if (replacement) return { rule: rule.name, replacement };
  }
  return null;
}

/** A rule that renames one op to another, keeping everything else. */
export function renameOp(name: string, from: string, to: string): Rule {
  return { name, apply: (node) => (node.op === from ? { nodes: [{ ...node, op: to }] } : null) };
}
