// evaluate() runs long windows in pieces through the KV cache: every figure equals that of whole windows, bit for bit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { EVAL_MAX_CALL_TOKENS, evalCallTokens, evaluate } from '../../src/runtime/evaluate.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { SnnError } from '../../src/errors/index.js';
import { importHfModel } from '../../src/import/hf/index.js';
import { GPT2_DIR, tempDir } from '../helpers.js';

const HELDOUT = [...readFileSync(join(GPT2_DIR, 'heldout.txt'))];

describe('evaluate() in pieces over the KV cache', () => {
  let b: Bundle;
  beforeAll(async () => {
    const { bundlePath } = await convert(GPT2_DIR, { out: join(tempDir(), 'chunks.snn'), report: false });
    b = await loadBundle(bundlePath);
  }, 120_000);
  afterAll(async () => { await b?.release(); });

  // 127 tokens: no piece size below divides it, so the last piece of each window is short.
  const opts = { window: 127, stride: 50 };
  const ids = HELDOUT.slice(0, 4 * 50 + 127);

  it.each([[48], [5], [1]])('pieces of %i tokens give the whole windows\' KL, top-1, perplexities, logit gap and clipped counts', async (chunk) => {
    const whole = await evaluate(b, ids, { ...opts, chunk: 1024 });
    const pieces = await evaluate(b, ids, { ...opts, chunk });
    expect(whole.windows).toBe(5);
    expect(whole.clipped!.sites.reduce((a, s) => a + s.values, 0)).toBeGreaterThan(0);
    expect(pieces).toEqual(whole);
  }, 240_000);

  it('windows shorter than a call are batched, with the figures of one window a call', async () => {
    const short = { window: 16, stride: 7 };
    const few = HELDOUT.slice(0, 20 * 7 + 16);
    expect(await evaluate(b, few, { ...short, chunk: 1024 })).toEqual(await evaluate(b, few, { ...short, chunk: 16 }));
  }, 120_000);

  it('reports progress in tokens after each call, up to every window\'s tokens', async () => {
    const seen: [number, number][] = [];
    await evaluate(b, ids, { ...opts, chunk: 48, onProgress: (done, total) => seen.push([done, total]) });
    expect(seen).toHaveLength(5 * 3);
    expect(seen.every(([, total]) => total === 5 * 127)).toBe(true);
    expect(seen.map(([done]) => done)).toEqual(Array.from({ length: 15 }, (_, k) => Math.floor(k / 3) * 127 + [48, 96, 127][k % 3]!));
  });

  it('refuses a chunk that is not a positive integer', async () => {
    await expect(evaluate(b, ids, { ...opts, chunk: 0 })).rejects.toThrow(SnnError);
    await expect(evaluate(b, ids, { ...opts, chunk: 2.5 })).rejects.toMatchObject({ code: 'OPTION_INVALID' });
  });
});

describe('evalCallTokens: tokens a call feeds within its byte budget', () => {
  const spec = importHfModel(GPT2_DIR).graph.spec;
  const wide = { ...spec, vocabSize: 151_936, hiddenSize: 1536, numHeads: 12 };

  it('keeps a small model\'s whole-window calls and cuts a large vocabulary\'s and many sites\' into pieces', () => {
    expect(evalCallTokens(spec, 128, null)).toBe(EVAL_MAX_CALL_TOKENS);
    const ann = evalCallTokens(wide, 1024, null);
    const snn = evalCallTokens(wide, 1024, { timesteps: 8, outputChannels: 400_000, widestChannels: 8960 });
    expect(ann).toBeLessThan(1024);
    expect(snn).toBeLessThan(ann);
    expect(snn).toBeGreaterThanOrEqual(1);
  });
});
