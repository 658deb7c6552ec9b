// layernorm-to-spike: LayerNorm → SpikeLayerNorm, RMSNorm → SpikeRMSNorm; same weights and wiring; ANN unchanged.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnnError } from '../../src/errors/index.js';
import type { Graph } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { replaceLayerNormWithSpike } from '../../src/passes/layernorm-to-spike.js';
import { runModel, tinyGpt2, tinyLlama } from '../harness/tiny-models.js';
import { tempDir } from '../helpers.js';

let root = '';
let gpt2: Graph;
let llama: Graph;
beforeAll(() => {
  root = tempDir('snn-ln-');
  gpt2 = tinyGpt2(root);
  llama = tinyLlama(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const snapshot = (g: Graph): string => JSON.stringify({ nodes: g.nodes, weights: [...g.weights.keys()], outputs: g.outputs });
const PROMPT = { ids: [[1, 5, 9, 3], [7, 2, 2, 10]] };

describe('replaceLayerNormWithSpike', () => {
  it('GPT-2: every LayerNorm (2 per layer and ln_f) becomes SpikeLayerNorm with its eps and weights', () => {
    const before = snapshot(gpt2);
    const { graph, matched } = replaceLayerNormWithSpike(gpt2);
    expect(matched).toEqual(['h.0.ln_1', 'h.0.ln_2', 'h.1.ln_1', 'h.1.ln_2', 'ln_f'].map((id) => `layernorm→spike: ${id}`));
    expect(graph.nodes.filter((n) => n.op === 'LayerNorm')).toEqual([]);
    graph.nodes.forEach((n, i) => {
      const old = gpt2.nodes[i]!;
      if (old.op === 'LayerNorm') expect(n).toEqual({ ...old, op: 'SpikeLayerNorm' });
      else expect(n).toBe(old);
    });
    expect(verifyGraph(graph)).toEqual([]);
    expect(snapshot(gpt2)).toBe(before);
  });

  it('Llama: every RMSNorm becomes SpikeRMSNorm', () => {
    const before = snapshot(llama);
    const { graph, matched } = replaceLayerNormWithSpike(llama);
    expect(matched).toEqual(['layers.0.input_layernorm', 'layers.0.post_attention_layernorm', 'layers.1.input_layernorm', 'layers.1.post_attention_layernorm', 'norm']
      .map((id) => `rmsnorm→spike: ${id}`));
    expect(graph.nodes.filter((n) => n.op === 'RMSNorm')).toEqual([]);
    expect(graph.nodes.filter((n) => n.op === 'SpikeRMSNorm')).toHaveLength(5);
    expect(verifyGraph(graph)).toEqual([]);
    expect(snapshot(llama)).toBe(before);
  });

  it('is idempotent: a second run matches nothing', () => {
    const once = replaceLayerNormWithSpike(gpt2).graph;
    const twice = replaceLayerNormWithSpike(once);
    expect(twice.matched).toEqual([]);
    expect(twice.graph.nodes).toEqual(once.nodes);
  });

  for (const arch of ['gpt2', 'llama'] as const) {
    it(`${arch}: the ANN lowering of the rewritten graph gives the original logits exactly`, async () => {
      const model = arch === 'gpt2' ? gpt2 : llama;
      const ann = await runModel(model, 'ann', PROMPT);
      const after = await runModel(replaceLayerNormWithSpike(model).graph, 'ann', PROMPT);
      expect(Array.from(after.logits)).toEqual(Array.from(ann.logits));
    });
  }

  it('alone it is not enough to emit a spiking graph: Attention still has no spiking form (OP_UNSUPPORTED)', async () => {
    const graph = { ...replaceLayerNormWithSpike(gpt2).graph, spiking: { timesteps: 2, recipe: 'test', tdConvention: 'mean' as const } };
    const error = await runModel(graph, 'snn', PROMPT).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(SnnError);
    expect((error as SnnError).code).toBe('OP_UNSUPPORTED');
    expect((error as SnnError).message).toContain('attention-to-spike');
  });
});
