// gelu-to-relu: every GELU becomes a ReLU (stac), nothing else changes, the input graph is untouched.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { replaceGeluWithRelu } from '../../src/passes/gelu-to-relu.js';
import { OP_SPEC, output, runGraph, uniforms } from '../harness/onnx-run.js';
import { relu } from '../harness/reference.js';
import { tinyGpt2, tinyLlama } from '../harness/tiny-models.js';
import { tempDir } from '../helpers.js';

let root = '';
let gpt2: Graph;
let llama: Graph;
beforeAll(() => {
  root = tempDir('snn-gelu-');
  gpt2 = tinyGpt2(root);
  llama = tinyLlama(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const snapshot = (g: Graph): string => JSON.stringify({ nodes: g.nodes, weights: [...g.weights.keys()], outputs: g.outputs });

describe('replaceGeluWithRelu', () => {
  it('turns each GPT-2 MLP GELU into a ReLU with no attributes, keeping its id and wiring', () => {
    const before = snapshot(gpt2);
    const { graph, matched } = replaceGeluWithRelu(gpt2);
    expect(matched).toEqual(['gelu→relu: h.0.mlp.act', 'gelu→relu: h.1.mlp.act']);
    expect(graph.nodes.filter((n) => n.op === 'Gelu')).toEqual([]);
    expect(graph.nodes).toHaveLength(gpt2.nodes.length);
    graph.nodes.forEach((n, i) => {
      const old = gpt2.nodes[i]!;
      if (old.op === 'Gelu') {
        expect(n).toEqual({ ...old, op: 'Relu', attrs: {} });
      } else {
        expect(n).toBe(old);
      }
    });
    expect(verifyGraph(graph)).toEqual([]);
    expect(graph.weights).toEqual(gpt2.weights);
    expect(snapshot(gpt2)).toBe(before);
  });

  it('leaves a model without GELU (Llama, SiLU) as it is, matching nothing', () => {
    const { graph, matched } = replaceGeluWithRelu(llama);
    expect(matched).toEqual([]);
    expect(graph.nodes).toEqual(llama.nodes);
    expect(verifyGraph(graph)).toEqual([]);
  });

  it('numerically: the rewritten graph computes max(x, 0) where it computed GELU (ANN lowering vs JS)', async () => {
    const g = new GraphBuilder(OP_SPEC);
    g.op('Gelu', 'act', ['x'], { attrs: { approximate: 'tanh' } });
    const graph = g.build([{ name: 'x', dtype: 'float32', shape: [2, 3, 4] }], [{ name: 'act', dtype: 'float32', shape: [2, 3, 4] }]);
    const x = uniforms(24, 1, -3, 3);
    const out = await runGraph(replaceGeluWithRelu(graph).graph, 'ann', { x: [x, [2, 3, 4]] });
    expect(Array.from(output(out, 'act').data)).toEqual(Array.from(x, relu));
  });
});
