// generate(): greedy equals the fixtures' own torch-exported ONNX run directly; seeds, stop strings, EOS, limits, conversations.
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHfAnn, type HfAnnModel } from '../../src/open/hf-ann.js';
import type { GeneratedPiece } from '../../src/runtime/generate.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import { GPT2_DIR, LLAMA_DIR } from '../helpers.js';
import { bytes } from './tsp-helpers.js';

async function collect(pieces: AsyncIterable<GeneratedPiece>): Promise<GeneratedPiece[]> {
  const out: GeneratedPiece[] = [];
  for await (const p of pieces) out.push(p);
  return out;
}

/**
 * Greedy decoding written against the HF I/O of `onnx/model.onnx` (a torch export shipped with the
 * fixture): prefill, then one token at a time feeding present.N.* back as past_key_values.N.*.
 */
async function referenceGreedy(modelDir: string, prompt: readonly number[], steps: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(join(modelDir, 'onnx', 'model.onnx'));
  try {
    const layers = session.inputNames.filter((n) => /^past_key_values\.\d+\.key$/.test(n)).length;
    const meta = session.inputMetadata.find((m) => m.name === 'past_key_values.0.key');
    const shape = meta && meta.isTensor ? meta.shape : [];
    const [heads, headDim] = [Number(shape[1]), Number(shape[3])];
    const i64 = (xs: readonly number[]) => BigInt64Array.from(xs, BigInt);
    let past: ort.Tensor[] = Array.from({ length: 2 * layers }, () => new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]));
    let ids = [...prompt];
    let length = 0;
    const out: number[] = [];
    for (let s = 0; s < steps; s++) {
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', i64(ids), [1, ids.length]),
        attention_mask: new ort.Tensor('int64', i64(Array(length + ids.length).fill(1)), [1, length + ids.length]),
        position_ids: new ort.Tensor('int64', i64(ids.map((_, k) => length + k)), [1, ids.length]),
      };
      for (let l = 0; l < layers; l++) {
        feeds[`past_key_values.${l}.key`] = past[2 * l]!;
        feeds[`past_key_values.${l}.value`] = past[2 * l + 1]!;
      }
      const res = await session.run(feeds);
      const logits = res['logits']!.data as Float32Array;
      const V = logits.length / ids.length;
      const last = logits.subarray((ids.length - 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (last[v]! > last[best]!) best = v;
      out.push(best);
      past = Array.from({ length: layers }, (_, l) => [res[`present.${l}.key`]!, res[`present.${l}.value`]!]).flat();
      length += ids.length;
      ids = [best];
    }
    return out;
  } finally {
    await session.release();
  }
}

describe.each([{ name: 'shakespeare-gpt2', dir: GPT2_DIR }, { name: 'shakespeare-llama', dir: LLAMA_DIR }])('$name ANN', ({ dir }) => {
  let model: HfAnnModel;
  beforeAll(async () => { model = await loadHfAnn(dir); });
  afterAll(async () => { await model.release(); });

  it("generates greedily the same tokens as the model's own ONNX export run directly in onnxruntime", async () => {
    const tsp = new TemporalSpikeProcessor(model);
    for (const prompt of ['ROMEO:', 'First Citizen:\nBefore we proceed any further, hear me speak.\n']) {
      const ids = bytes(prompt);
      const pieces = await collect(tsp.generate(ids, { maxNewTokens: 48, eos: null }));
      const expected = await referenceGreedy(dir, ids, 48);
      expect(pieces.map((p) => p.tokenId)).toEqual(expected);
      expect(pieces.map((p) => p.text).join('')).toBe(Buffer.from(expected).toString('utf8'));
      expect(pieces.at(-1)!.finishReason).toBe('length');
    }
    expect(tsp.conversations()).toEqual([]); // a generate without batchId keeps nothing
  });
});

describe('generate options', () => {
  let model: HfAnnModel;
  let tsp: TemporalSpikeProcessor;
  const prompt = bytes('KING RICHARD:\n');
  beforeAll(async () => { model = await loadHfAnn(GPT2_DIR); tsp = new TemporalSpikeProcessor(model); });
  afterAll(async () => { await model.release(); });

  it('samples reproducibly: the same seed gives the same tokens, another seed others', async () => {
    const opts = { maxNewTokens: 40, temperature: 1, topK: 50, topP: 0.95, eos: null };
    const a = await collect(tsp.generate(prompt, { ...opts, seed: 11 }));
    const b = await collect(tsp.generate(prompt, { ...opts, seed: 11 }));
    const c = await collect(tsp.generate(prompt, { ...opts, seed: 12 }));
    expect(b.map((p) => p.tokenId)).toEqual(a.map((p) => p.tokenId));
    expect(c.map((p) => p.tokenId)).not.toEqual(a.map((p) => p.tokenId));
  });

  it('stops before a stop string, and on EOS with an empty final piece', async () => {
    const greedy = await collect(tsp.generate(prompt, { maxNewTokens: 40, eos: null }));
    const text = greedy.map((p) => p.text).join('');
    const stop = text.slice(10, 14);
    const stopped = await collect(tsp.generate(prompt, { maxNewTokens: 40, eos: null, stop: [stop] }));
    expect(stopped.map((p) => p.text).join('')).toBe(text.slice(0, text.indexOf(stop)));
    expect(stopped.at(-1)!.finishReason).toBe('stop');
    const eos = greedy[5]!.tokenId;
    const first = greedy.findIndex((p) => p.tokenId === eos);
    const ended = await collect(tsp.generate(prompt, { maxNewTokens: 40, eos }));
    expect(ended).toHaveLength(first + 1);
    expect(ended.at(-1)).toEqual({ tokenId: eos, text: '', finishReason: 'eos' });
  });

  it('continues a conversation: the prompt and every sampled token but the last are cached', async () => {
    const chat = new TemporalSpikeProcessor(model);
    await chat.forward([bytes('ROMEO: ')], { batchIds: ['r'] });
    const pieces = await collect(chat.generate(bytes('Hark'), { batchId: 'r', maxNewTokens: 12, eos: null }));
    expect(chat.getTokenIds('r')).toEqual([...bytes('ROMEO: Hark'), ...pieces.slice(0, -1).map((p) => p.tokenId)]);
    expect(chat.getPositionIds('r')).toEqual(chat.getTokenIds('r').map((_, i) => i));
    // …and is the same as generating from the whole text at once.
    const once = await collect(tsp.generate(bytes('ROMEO: Hark'), { maxNewTokens: 12, eos: null }));
    expect(pieces.map((p) => p.tokenId)).toEqual(once.map((p) => p.tokenId));
  });

  it('refuses to go on when its conversation is reset or fed while it runs, instead of generating from a changed history', async () => {
    const chat = new TemporalSpikeProcessor(model);
    for (const meddle of [() => chat.resetCache('g'), () => chat.resetCache(), () => chat.truncateCache('g', 2), () => chat.forward([[32]], { batchIds: ['g'] })]) {
      const pieces = chat.generate(bytes('ROMEO:'), { batchId: 'g', maxNewTokens: 10, eos: null });
      expect((await pieces.next()).done).toBe(false);
      await meddle();
      await expect(pieces.next()).rejects.toMatchObject({ code: 'INPUT_INVALID', message: expect.stringMatching(/reset or fed while generate\(\) was running/) });
      if (chat.conversations().includes('g')) chat.resetCache('g');
    }
    // A private generation survives resetCache() of everything.
    const own = tsp.generate(prompt, { maxNewTokens: 3, eos: null });
    await own.next();
    tsp.resetCache();
    expect((await collect(own)).length).toBe(2);
  });

  it("throws CONTEXT_OVERFLOW when generation reaches the context under 'error', and goes on under 'slide' with a bounded cache", async () => {
    const strict = new TemporalSpikeProcessor(model, { maxContextLength: 32 });
    const seen: GeneratedPiece[] = [];
    await expect(async () => { for await (const p of strict.generate(prompt, { maxNewTokens: 40, eos: null })) seen.push(p); }).rejects.toMatchObject({ code: 'CONTEXT_OVERFLOW' });
    expect(seen).toHaveLength(32 - prompt.length + 1);
    const sliding = new TemporalSpikeProcessor(model, { maxContextLength: 32, overflow: 'slide' });
    const longest: number[] = [];
    for await (const _ of sliding.generate(prompt, { maxNewTokens: 100, eos: null, batchId: 's' })) longest.push(sliding.getTokenIds('s').length);
    expect(longest).toHaveLength(100);
    expect(Math.max(...longest)).toBeLessThanOrEqual(32);
  });
});
