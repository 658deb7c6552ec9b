// The rewrite engine: rules to a fixpoint (bounded), matches recorded in order, weights added, input never mutated.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph, Node } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { renameOp, rewrite, type Rule } from '../../src/passes/rewrite.js';
import { OP_SPEC } from '../harness/onnx-run.js';

/** x → Relu a → Gelu b → Relu c. */
function chain(): Graph {
  const g = new GraphBuilder(OP_SPEC);
  const a = g.op('Relu', 'a', ['x']);
  const b = g.op('Gelu', 'b', [a], { attrs: { approximate: 'none' } });
  g.op('Relu', 'c', [b]);
  return g.build([{ name: 'x', dtype: 'float32', shape: [1, 1, 4] }], [{ name: 'c', dtype: 'float32', shape: [1, 1, 4] }]);
}

const snapshot = (g: Graph): string => JSON.stringify({ nodes: g.nodes, weights: [...g.weights.keys()] });

describe('rewrite', () => {
  it('renameOp renames every node of one op, keeping the rest of each node, and records `rule: id` in order', () => {
    const graph = chain();
    const before = snapshot(graph);
    const { graph: out, matched } = rewrite(graph, [renameOp('relu→silu', 'Relu', 'Silu')]);
    expect(out.nodes.map((n) => n.op)).toEqual(['Silu', 'Gelu', 'Silu']);
    expect(out.nodes[0]).toEqual({ ...graph.nodes[0]!, op: 'Silu' });
    expect(out.nodes[1]).toBe(graph.nodes[1]);
    expect(matched).toEqual(['relu→silu: a', 'relu→silu: c']);
    expect(snapshot(graph)).toBe(before);
    expect(verifyGraph(out)).toEqual([]);
  });

  it('runs to a fixpoint: a rule that enables another fires in a later round', () => {
    const { graph, matched } = rewrite(chain(), [renameOp('gelu→relu', 'Gelu', 'Relu'), renameOp('relu→silu', 'Relu', 'Silu')]);
    expect(graph.nodes.map((n) => n.op)).toEqual(['Silu', 'Silu', 'Silu']);
    expect(matched).toEqual(['relu→silu: a', 'gelu→relu: b', 'relu→silu: c', 'relu→silu: b']);
  });

  it('the first matching rule wins for a node', () => {
    const { matched } = rewrite(chain(), [renameOp('first', 'Relu', 'Silu'), renameOp('second', 'Relu', 'Gelu')]);
    expect(matched).toEqual(['first: a', 'first: c']);
  });

  it('stops after maxRounds even if rules keep firing', () => {
    const flip: Rule[] = [renameOp('relu→silu', 'Relu', 'Silu'), renameOp('silu→relu', 'Silu', 'Relu')];
    const { graph, matched } = rewrite(chain(), flip, 3);
    expect(matched).toHaveLength(2 * 3);
    expect(graph.nodes.map((n) => n.op)).toEqual(['Silu', 'Gelu', 'Silu']);
  });

  it('a replacement may expand a node into several and add weights', () => {
    const expand: Rule = {
      name: 'gelu→linear+relu',
      apply: (node) => {
        if (node.op !== 'Gelu') return null;
        const lin: Node = { id: `${node.id}.lin`, op: 'Linear', inputs: node.inputs, outputs: [`${node.id}.lin`], attrs: { inFeatures: 4, outFeatures: 4, transposed: false }, weights: { weight: `${node.id}.w` } };
        const act: Node = { ...node, op: 'Relu', inputs: [`${node.id}.lin`], attrs: {} };
        return { nodes: [lin, act], weights: [{ name: `${node.id}.w`, shape: [4, 4], source: { kind: 'data', data: new Float32Array(16) } }] };
      },
    };
    const graph = chain();
    const { graph: out, matched } = rewrite(graph, [expand]);
    expect(out.nodes.map((n) => n.id)).toEqual(['a', 'b.lin', 'b', 'c']);
    expect(out.weights.has('b.w')).toBe(true);
    expect(graph.weights.has('b.w')).toBe(false);
    expect(matched).toEqual(['gelu→linear+relu: b']);
    expect(verifyGraph(out)).toEqual([]);
  });

  it('no rule firing returns an equal graph and no matches', () => {
    const graph = chain();
    const { graph: out, matched } = rewrite(graph, [renameOp('none', 'Attention', 'SpikeAttention')]);
    expect(matched).toEqual([]);
    expect(out.nodes).toEqual(graph.nodes);
  });
});
