// attention-to-spike: Attention → SpikeAttention (same wiring); numerically, cached prefill ≡ full recompute (docs/design.md §2).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Graph } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { replaceAttentionWithSpike } from '../../src/passes/attention-to-spike.js';
import { runRecipe, type Recipe } from '../../src/passes/pipeline.js';
import { maxAbsDiff } from '../harness/onnx-run.js';
import { VOCAB, runModel, tinyGpt2, tinyLlama } from '../harness/tiny-models.js';
import { tempDir } from '../helpers.js';

let root = '';
let gpt2: Graph;
let llama: Graph;
beforeAll(() => {
  root = tempDir('snn-attn-');
  gpt2 = tinyGpt2(root);
  llama = tinyLlama(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const snapshot = (g: Graph): string => JSON.stringify({ nodes: g.nodes, weights: [...g.weights.keys()], outputs: g.outputs });

describe('replaceAttentionWithSpike', () => {
  for (const arch of ['gpt2', 'llama'] as const) {
    it(`${arch}: each Attention becomes SpikeAttention with the same inputs, outputs (incl. present K/V) and attributes`, () => {
      const model = arch === 'gpt2' ? gpt2 : llama;
      const before = snapshot(model);
      const { graph, matched } = replaceAttentionWithSpike(model);
      const ids = model.nodes.filter((n) => n.op === 'Attention').map((n) => n.id);
      expect(ids).toHaveLength(2);
      expect(matched).toEqual(ids.map((id) => `attention→spike: ${id}`));
      graph.nodes.forEach((n, i) => {
        const old = model.nodes[i]!;
        if (old.op === 'Attention') {
          expect(n).toEqual({ ...old, op: 'SpikeAttention' });
          expect(n.outputs.slice(1)).toEqual([`present.${ids.indexOf(old.id)}.key`, `present.${ids.indexOf(old.id)}.value`]);
        } else {
          expect(n).toBe(old);
        }
      });
      expect(verifyGraph(graph)).toEqual([]);
      expect(snapshot(model)).toBe(before);
    });
  }

  it('keeps RoPE and GQA attributes (Llama)', () => {
    const node = replaceAttentionWithSpike(llama).graph.nodes.find((n) => n.op === 'SpikeAttention')!;
    expect(node.attrs).toEqual({ numHeads: 2, numKvHeads: 1, headDim: 4, ropeTheta: 10000 });
  });
});

describe('SpikeAttention across tokens: a cached prefill equals the full recompute', () => {
  const cases: readonly (readonly ['gpt2' | 'llama', Recipe])[] = [['gpt2', 'exact'], ['llama', 'exact'], ['gpt2', 'faithful'], ['llama', 'faithful']];
  for (const [arch, recipe] of cases) {
    it(`${arch}, ${recipe}, T = 5: logits of tokens 4–5 after a 3-token prefill equal those of one 5-token run`, async () => {
      const graph = runRecipe(arch === 'gpt2' ? gpt2 : llama, recipe, 5).graph;
      const ids = [[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]];
      const full = await runModel(graph, 'snn', { ids });
      const first = await runModel(graph, 'snn', { ids: ids.map((r) => r.slice(0, 3)) });
      const rest = await runModel(graph, 'snn', { ids: ids.map((r) => r.slice(3)), past: { length: 3, cache: first.present } });
      const lastTwo = (logits: Float32Array) => Float32Array.from([0, 1].flatMap((b) => Array.from(logits.subarray((b * 5 + 3) * VOCAB, (b * 5 + 5) * VOCAB))));
      const firstThree = (logits: Float32Array) => Float32Array.from([0, 1].flatMap((b) => Array.from(logits.subarray(b * 5 * VOCAB, (b * 5 + 3) * VOCAB))));
      expect(maxAbsDiff(rest.logits, lastTwo(full.logits))).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(first.logits, firstThree(full.logits))).toBeLessThanOrEqual(1e-4);
      rest.present.forEach((p, i) => expect(maxAbsDiff(p, full.present[i]!)).toBeLessThanOrEqual(1e-5));
    });
  }
});
