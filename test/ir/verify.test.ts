// verifyGraph / assertValid: the graph invariants every import and pass must keep, each broken on purpose.
import { describe, expect, it } from 'vitest';
import { SnnError } from '../../src/errors/index.js';
import type { Graph, Node } from '../../src/ir/types.js';
import { assertValid, verifyGraph } from '../../src/ops/verify.js';
import { OP_SPEC } from '../harness/onnx-run.js';

const w4 = { name: 'w', shape: [4, 4], source: { kind: 'data' as const, data: new Float32Array(16) } };

function node(id: string, op: string, inputs: string[], extra: Partial<Node> = {}): Node {
  return { id, op, inputs, outputs: [id], attrs: {}, weights: {}, ...extra };
}

const linear = (id: string, input: string, extra: Partial<Node> = {}): Node =>
  node(id, 'Linear', [input], { attrs: { inFeatures: 4, outFeatures: 4, transposed: false }, weights: { weight: 'w' }, ...extra });

/** x → Linear p → Relu r (the output): valid. */
function graphOf(nodes: Node[], outputs = ['r']): Graph {
  return {
    spec: OP_SPEC,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 4] }],
    outputs: outputs.map((name) => ({ name, dtype: 'float32' as const, shape: [1, 2, 4] })),
    nodes,
    weights: new Map([['w', w4]]),
  };
}

const valid = (): Node[] => [linear('p', 'x'), node('r', 'Relu', ['p'])];

describe('verifyGraph', () => {
  it('a valid graph has no problems, and assertValid returns it', () => {
    const g = graphOf(valid());
    expect(verifyGraph(g)).toEqual([]);
    expect(assertValid(g, 'test')).toBe(g);
  });

  it('catches an unknown op, naming node and op', () => {
    const problems = verifyGraph(graphOf([linear('p', 'x'), node('r', 'Softplus', ['p'])]));
    // An unknown op's outputs stay undefined, so the graph output it should produce is reported too.
    expect(problems).toEqual(['node r (Softplus): unknown op', 'graph output r is never produced']);
  });

  it('catches an input used before it is defined (out of topological order)', () => {
    const problems = verifyGraph(graphOf([node('r', 'Relu', ['p']), linear('p', 'x')]));
    expect(problems).toEqual(['node r (Relu): input p is used before it is defined']);
  });

  it('catches an input that is never defined', () => {
    expect(verifyGraph(graphOf([linear('p', 'nowhere'), node('r', 'Relu', ['p'])]))).toEqual(['node p (Linear): input nowhere is used before it is defined']);
  });

  it('catches a missing weight role and a weight absent from the graph; an optional role may be absent', () => {
    expect(verifyGraph(graphOf([linear('p', 'x', { weights: {} }), node('r', 'Relu', ['p'])]))).toEqual(['node p (Linear): weight role weight missing']);
    expect(verifyGraph(graphOf([linear('p', 'x', { weights: { weight: 'w', bias: 'b' } }), node('r', 'Relu', ['p'])]))).toEqual(['node p (Linear): weight b not in the graph']);
    expect(verifyGraph(graphOf(valid()))).toEqual([]); // no bias: `bias?` is optional
  });

  it('catches an output defined twice, including one that shadows a graph input', () => {
    expect(verifyGraph(graphOf([linear('p', 'x'), node('r', 'Relu', ['p']), node('r2', 'Relu', ['p'], { outputs: ['r'] })])))
      .toEqual(['node r2 (Relu): output r defined twice']);
    expect(verifyGraph(graphOf([linear('p', 'x', { outputs: ['x'] }), node('r', 'Relu', ['x'])]))).toEqual(['node p (Linear): output x defined twice']);
  });

  it('catches a duplicate node id', () => {
    expect(verifyGraph(graphOf([linear('p', 'x'), node('p', 'Relu', ['p'], { outputs: ['r'] })]))).toEqual(['node p (Relu): duplicate node id']);
  });

  it('catches a wrong number of inputs', () => {
    expect(verifyGraph(graphOf([linear('p', 'x'), node('r', 'Add', ['p'])]))).toEqual(['node r (Add): 1 inputs, expected 2']);
  });

  it('catches bad attributes through the op\'s own check', () => {
    const problems = verifyGraph(graphOf([
      linear('p', 'x', { attrs: { inFeatures: 4, outFeatures: Number.NaN, transposed: 'no' } }),
      node('g', 'Gelu', ['p'], { attrs: { approximate: 'sigmoid' } }),
      node('n', 'Neuron', ['g'], { attrs: { kind: 'LIF', levels: 0 }, weights: { threshold: 'w' } }),
      node('a', 'Attention', ['n', 'n', 'n', 'x', 'x', 'x', 'x'], { attrs: { numHeads: 3, numKvHeads: 2, headDim: 4 }, outputs: ['r', 'a.k', 'a.v'] }),
    ]));
    expect(problems).toEqual([
      'node p (Linear): attribute outFeatures must be a finite number',
      'node p (Linear): attribute transposed must be a boolean',
      "node g (Gelu): attribute approximate must be 'tanh' or 'none'",
      'node n (Neuron): attribute kind must be one of IF, SignedIF',
      'node n (Neuron): attribute levels must be a positive integer',
      'node n (Neuron): attribute site must name the neuron site',
      'node a (Attention): numHeads must be a multiple of numKvHeads',
    ]);
  });

  it('catches a graph output that is never produced', () => {
    expect(verifyGraph(graphOf(valid(), ['r', 'logits']))).toEqual(['graph output logits is never produced']);
  });

  it('reports every problem at once; assertValid throws them as one GRAPH_INVALID naming the stage', () => {
    const g = graphOf([node('r', 'Relu', ['p']), node('q', 'Mystery', ['x'])], ['r', 'z']);
    expect(verifyGraph(g)).toHaveLength(3);
    let error: unknown;
    try { assertValid(g, 'after pass test'); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(SnnError);
    expect((error as SnnError).code).toBe('GRAPH_INVALID');
    expect((error as SnnError).at).toBe('after pass test');
    expect((error as SnnError).message).toContain('input p is used before it is defined');
    expect((error as SnnError).message).toContain('node q (Mystery): unknown op');
    expect((error as SnnError).message).toContain('graph output z is never produced');
  });
});
