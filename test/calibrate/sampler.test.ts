// The calibration sampler (fixed K/V buffers, the draw in the graph) against the source ANN's own forward
// pass: every token it draws is the one inverse-CDF sampling picks from the ANN's next-token distribution.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { documentSeed, SAMPLED_DOCUMENT_LENGTH, SAMPLER_LINEARS, SAMPLER_SLOT_STEP, sampleDocuments, sampleFromModel, samplingBytes } from '../../src/calibrate/sample.js';
import type { SamplerLinears } from '../../src/options/values.js';
import { importHfModel } from '../../src/import/hf/index.js';
import type { Graph } from '../../src/ir/types.js';
import { openGraphSession, withEmittedModel } from '../../src/open/graph-session.js';
import { SAMPLER_EMBEDS } from '../../src/emit/lower.js';
import { runRecipe } from '../../src/passes/pipeline.js';
import { createRng } from '../../src/runtime/sampling.js';
import { rowsInput } from '../../src/runtime/windows.js';
import { loadTokenizer } from '../../src/tokenizer/tokenizer.js';
import { samplingCacheBytes } from '../../src/weights/memory.js';
import { tempDir } from '../helpers.js';
import { tinyGpt2 } from '../harness/tiny-models.js';

/** Inverse-CDF draw in float64: the first id whose cumulative softmax(logits / temperature) exceeds u · Σ. */
function draw(logits: Float32Array, at: number, V: number, u: number, temperature: number): number {
  let top = -Infinity;
  for (let i = 0; i < V; i++) top = Math.max(top, logits[at + i]!);
  const w = Array.from({ length: V }, (_, i) => Math.exp((logits[at + i]! - top) / temperature));
  let target = u * w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < V; i++) if ((target -= w[i]!) < 0) return i;
  return V - 1;
}

/**
 * Tokens of `docs` the ANN's whole-document forward pass (the standard form, no cache; with `int8`, its
 * dynamic INT8 form) would draw with each document's stream, position by position given the document's
 * own prefix; and how many differ from the document.
 */
async function mismatches(graph: Graph, docs: readonly number[][], seed: number, temperature: number, linears: SamplerLinears = 'float'): Promise<{ checked: number; differ: number }> {
  const session = await openGraphSession(graph, 'ann', linears === 'int8' ? { quantized: 'dynamic' } : {});
  const V = graph.spec.vocabSize;
  let checked = 0, differ = 0;
  try {
    for (const [d, doc] of docs.entries()) {
      const { logits } = await session.run(rowsInput([doc.slice(0, -1)]));
      const rng = createRng(documentSeed(seed, d));
      for (let t = 0; t + 1 < doc.length; t++) {
        checked += 1;
        if (draw(logits, t * V, V, rng(), temperature) !== doc[t + 1]) differ += 1;
      }
    }
  } finally {
    await session.release();
  }
  return { checked, differ };
}

describe('calibration sampler', () => {
  // Two layouts: GPT-2 (learned positions, one KV head per head) and Llama with grouped-query heads and RoPE.
  for (const name of ['shakespeare-gpt2', 'unseen/code-llama']) {
    const { graph: source } = importHfModel(`fixtures/${name}`);
    const { graph } = runRecipe(source, 'faithful', 8, { code: 'weighted', headroom: 1 });
    // Longer than three SAMPLER_SLOT_STEPs: the cache is re-laid out while filled.
    const length = 3 * SAMPLER_SLOT_STEP + 7;

    for (const linears of ['float', 'int8'] as const) {
      it(`draws what the source ANN's forward pass draws with the same uniforms (${name}, ${linears} linears)`, async () => {
        for (const temperature of [1, 0.7]) {
          const docs = await sampleDocuments(graph, 3, length, { seed: 11, start: 0, temperature, linears });
          expect(docs.map((d) => d.length)).toEqual([length, length, length]);
          expect(docs.every((d) => d[0] === 0 && d.every((t) => Number.isInteger(t) && t >= 0 && t < graph.spec.vocabSize))).toBe(true);
          const { checked, differ } = await mismatches(source, docs, 11, temperature, linears);
          expect(checked).toBe(3 * (length - 1));
          // float32 sums in the graph against float64 here: a draw within rounding of a boundary may go either way.
          expect(differ).toBeLessThanOrEqual(1);
        }
      }, 120_000);
    }

    it(`draws documents through INT8 linears by default, unlike the float ANN's (${name})`, async () => {
      expect(SAMPLER_LINEARS).toBe('int8');
      const byDefault = await sampleDocuments(graph, 3, length, { seed: 11, start: 0 });
      expect(byDefault).toEqual(await sampleDocuments(graph, 3, length, { seed: 11, start: 0, linears: 'int8' }));
      // Close distributions, different draws somewhere in 3 × 103 tokens: the form really changed.
      expect(byDefault).not.toEqual(await sampleDocuments(graph, 3, length, { seed: 11, start: 0, linears: 'float' }));
    }, 120_000);

    it(`feeds the token embedding's rows read from the weights file: the documents of the graph's own Gather (${name})`, async () => {
      const fed = await sampleDocuments(graph, 3, length, { seed: 9, start: 0 });
      const gathered = await sampleDocuments(graph, 3, length, { seed: 9, start: 0, embeddings: 'graph' });
      expect(fed).toEqual(gathered);
      const inputs = (embeddingsFed: boolean) => withEmittedModel(graph, 'ann', { sampler: { temperature: 1, embeddingsFed } }, (_, e) => new TextDecoder('latin1').decode(e.bytes).includes(SAMPLER_EMBEDS));
      expect(await inputs(true)).toBe(true);
      expect(await inputs(false)).toBe(false);
    }, 120_000);

    it(`gives each document its own stream: the same documents whatever the batch (${name})`, async () => {
      const together = await sampleDocuments(graph, 3, length, { seed: 4, start: 0 });
      const alone = await sampleDocuments(graph, 3, length, { seed: 4, start: 0, batch: 1 });
      expect(alone).toEqual(together);
      const other = await sampleDocuments(graph, 3, length, { seed: 5, start: 0 });
      expect(other).not.toEqual(together);
      expect(new Set(together.map((d) => d.join(' '))).size).toBe(3);
    }, 120_000);
  }

  it('draws from a vocabulary smaller than the zeros that fill its one block', async () => {
    const graph = tinyGpt2(tempDir()); // vocab 11: one draw block of 256, 245 of them filled with zeros
    const docs = await sampleDocuments(graph, 4, 12, { seed: 2, start: 0 });
    expect(docs.every((d) => d.length === 12 && d.every((t) => Number.isInteger(t) && t >= 0 && t < graph.spec.vocabSize))).toBe(true);
    const { checked, differ } = await mismatches(graph, docs, 2, 1, SAMPLER_LINEARS);
    expect(checked).toBe(4 * 11);
    expect(differ).toBeLessThanOrEqual(1);
    expect(new Set(docs.flat()).size).toBeGreaterThan(3);
  }, 60_000);

  it('joins documents into windows longer than one, each document opening with the start token', async () => {
    const { graph } = importHfModel('fixtures/unseen/code-llama'); // context 512
    const length = SAMPLED_DOCUMENT_LENGTH + 40, start = 1;
    const data = await sampleFromModel(graph, { samples: 2, length, seed: 3, start });
    const docs = await sampleDocuments(graph, 4, SAMPLED_DOCUMENT_LENGTH, { seed: 3, start });
    expect(data.maxLength).toBe(length);
    for (const [b, row] of data.samples.entries()) {
      expect(row).toEqual([...docs[2 * b]!, ...docs[2 * b + 1]!.slice(0, 40)]);
      expect(row[0]).toBe(start);
      expect(row[SAMPLED_DOCUMENT_LENGTH]).toBe(start);
    }
  }, 120_000);

  it('counts its K/V buffers in the memory check: one batch of documents, allocated once', () => {
    const { graph } = importHfModel('fixtures/unseen/code-llama');
    const { numLayers, numKvHeads, headDim } = graph.spec;
    const perDoc = numLayers * 2 * numKvHeads * (SAMPLED_DOCUMENT_LENGTH - 1) * headDim * 4;
    expect(samplingBytes(graph, 8, 512)).toBe(16 * perDoc);
    expect(samplingBytes(graph, 8, 128)).toBe(samplingCacheBytes(graph, 8, 128));
  });
});

describe("the document sampler's INT8 linears against the float ANN", () => {
  // The float ANN reproduces each model's PyTorch perplexity (unseen.test.ts, shakespeare fixtures); its
  // next-token distributions are the reference. Two windows of each model's own calibration-side text.
  const models = [['unseen/code-llama', 'fixtures/unseen/code-llama/calib.txt'], ['unseen/bpe-llama', 'fixtures/unseen/bpe-llama/calib.txt'], ['unseen/chat-gpt2', 'fixtures/unseen/chat-gpt2/calib.txt'], ['shakespeare-gpt2', 'fixtures/calibration/tinyshakespeare-train.txt']] as const;
  for (const [name, text] of models) {
    it(`keeps the next-token distribution: mean KL ≤ 0.002 and top-1 agreement ≥ 97 % (${name})`, async () => {
      const { graph } = importHfModel(`fixtures/${name}`);
      const ids = (await loadTokenizer(`fixtures/${name}`)).encode(readFileSync(text, 'utf8'));
      const W = Math.min(256, graph.spec.maxPositions), V = graph.spec.vocabSize;
      const float = await openGraphSession(graph, 'ann');
      const int8 = await openGraphSession(graph, 'ann', { quantized: 'dynamic' });
      let kl = 0, agree = 0, n = 0;
      try {
        for (let w = 0; w < 2; w++) {
          const window = rowsInput([ids.slice(w * W, (w + 1) * W)]);
          const p = (await float.run(window)).logits, q = (await int8.run(window)).logits;
          for (let t = 0; t < W; t++, n++) {
            const lp = logSoftmax(p, t * V, V), lq = logSoftmax(q, t * V, V);
            for (let i = 0; i < V; i++) kl += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
            if (argmax(lp) === argmax(lq)) agree += 1;
          }
        }
      } finally {
        await float.release();
        await int8.release();
      }
      expect(kl / n).toBeLessThanOrEqual(0.002);
      expect(kl / n).toBeGreaterThan(0); // a different form, not the float one again
      expect(agree / n).toBeGreaterThanOrEqual(0.97);
    }, 60_000);
  }
});

function logSoftmax(x: Float32Array, at: number, V: number): Float64Array {
  let top = -Infinity;
  for (let i = 0; i < V; i++) top = Math.max(top, x[at + i]!);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(x[at + i]! - top);
  const log = Math.log(sum) + top;
  return Float64Array.from({ length: V }, (_, i) => x[at + i]! - log);
}

function argmax(x: Float64Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}
