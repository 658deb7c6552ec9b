// Exact state (docs/design.md §5): spikes and logits identical, bit for bit, however a text is fed — whole, in chunks
// of 1, 7 or 64 tokens through the cache, batched with other conversations of other lengths, or after the
// context window slid — on real held-out text of the shipped models (weighted code, integer synapses).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import type { ModelSession, StepInput } from '../../src/runtime/session.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import { GPT2_DIR, LLAMA_DIR, tempDir } from '../helpers.js';

const HELDOUT = [...readFileSync(join(GPT2_DIR, 'heldout.txt'))];
const TEXT = HELDOUT.slice(20_000, 20_000 + 120);

interface Fed { readonly logits: Float32Array; readonly spikes: Map<string, Float32Array[]> }

/** Feeds `ids` through the session in chunks of `chunk` tokens, carrying the K/V cache; per chunk its logits and spike tensors. */
async function feed(session: ModelSession, spec: Bundle['spec'], outputs: readonly string[], ids: readonly number[], chunk: number): Promise<Fed> {
  let cache: Float32Array[] = [];
  const logits: Float32Array[] = [];
  const spikes = new Map(outputs.map((o) => [o, [] as Float32Array[]]));
  for (let past = 0; past < ids.length; past += chunk) {
    const part = ids.slice(past, past + chunk);
    const input: StepInput = {
      batch: 1, seq: part.length, past, cache,
      ids: BigInt64Array.from(part, BigInt),
      mask: new BigInt64Array(past + part.length).fill(1n),
      positions: BigInt64Array.from(part, (_, i) => BigInt(past + i)),
    };
    const out = await session.run(input, outputs);
    logits.push(out.logits);
    for (const o of outputs) spikes.get(o)!.push(out.extra.get(o)!.data);
    cache = out.present;
    expect(cache[0]!.length).toBe(spec.numKvHeads * (past + part.length) * spec.headDim);
  }
  const all = new Float32Array(logits.reduce((n, l) => n + l.length, 0));
  let offset = 0;
  for (const l of logits) { all.set(l, offset); offset += l.length; }
  return { logits: all, spikes };
}

/** Spikes of one site as [token][step × channel], from chunks of [T, 1, s, D]. */
function perToken(chunks: readonly Float32Array[], T: number, D: number): number[][] {
  const tokens: number[][] = [];
  for (const c of chunks) {
    const s = c.length / (T * D);
    for (let j = 0; j < s; j++) tokens.push(Array.from({ length: T * D }, (_, i) => c[(Math.floor(i / D) * s + j) * D + (i % D)]! + 0));
  }
  return tokens;
}

/** Positions whose logits differ at all (empty: bit-identical). */
function differingPositions(a: Float32Array, b: Float32Array, V: number): number[] {
  expect(a.length).toBe(b.length);
  const at = new Set<number>();
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) at.add(Math.floor(i / V));
  return [...at];
}

describe.each([
  ['gpt2 default (weighted, faithful)', GPT2_DIR, 'faithful'],
  ['gpt2 stac (weighted)', GPT2_DIR, 'stac'],
  ['llama default (weighted, faithful)', LLAMA_DIR, 'faithful'],
])('%s', (_name, dir, recipe) => {
  let bundle: Bundle;
  beforeAll(async () => {
    const { bundlePath } = await convert(dir, { recipe, out: join(tempDir('snn-exact-'), 'm.snn') });
    bundle = await loadBundle(bundlePath);
  });
  afterAll(async () => { await bundle?.release(); });

  it('token by token, chunks of 7 and 64, and whole: identical logits and spike tensors at every position', async () => {
    const session = await bundle.session(false);
    const outputs = bundle.spikeOutputs.map((s) => s.output);
    const whole = await feed(session, bundle.spec, outputs, TEXT, TEXT.length);
    for (const chunk of [1, 7, 64]) {
      const fed = await feed(session, bundle.spec, outputs, TEXT, chunk);
      expect(differingPositions(fed.logits, whole.logits, bundle.spec.vocabSize), `chunks of ${chunk}: positions whose logits differ`).toEqual([]);
      for (const s of bundle.spikeOutputs) {
        const a = perToken(fed.spikes.get(s.output)!, bundle.timesteps, s.channels);
        const b = perToken(whole.spikes.get(s.output)!, bundle.timesteps, s.channels);
        const bad = a.flatMap((t, j) => (t.every((v, i) => v === b[j]![i]) ? [] : [j]));
        expect(bad, `chunks of ${chunk}, ${s.site}: positions whose spikes differ`).toEqual([]);
      }
    }
  });

  it('alone vs batched with 3 other conversations of different lengths: identical logits', async () => {
    const alone = new TemporalSpikeProcessor(bundle);
    const a = await alone.forward([TEXT.slice(0, 50)], { batchIds: ['a'] });
    const a2 = await alone.forward([TEXT.slice(50, 61)], { batchIds: ['a'] });
    const mixed = new TemporalSpikeProcessor(bundle);
    const others = [HELDOUT.slice(100, 117), HELDOUT.slice(900, 903), HELDOUT.slice(3000, 3090)];
    const m = await mixed.forward([TEXT.slice(0, 50), ...others], { batchIds: ['a', 'x', 'y', 'z'] });
    const m2 = await mixed.forward([TEXT.slice(50, 61), HELDOUT.slice(117, 140), [65], HELDOUT.slice(3090, 3095)], { batchIds: ['a', 'x', 'y', 'z'] });
    const V = bundle.spec.vocabSize;
    expect(differingPositions(m.rowLogits[0]!, a.rowLogits[0]!, V)).toEqual([]);
    expect(differingPositions(m2.rowLogits[0]!, a2.rowLogits[0]!, V)).toEqual([]);
  });

  it('after the context window slides: identical to a recompute of the kept tokens', async () => {
    const ctx = 64;
    const tsp = new TemporalSpikeProcessor(bundle, { maxContextLength: ctx, overflow: 'slide', slideKeep: 40 });
    await tsp.forward([TEXT.slice(0, 60)], { batchIds: ['s'] });
    const slid = await tsp.forward([TEXT.slice(60, 70)], { batchIds: ['s'] });
    expect(slid.dropped[0]).toBe(20);
    const kept = tsp.getTokenIds('s');
    expect(kept).toEqual(TEXT.slice(20, 70));
    const fresh = new TemporalSpikeProcessor(bundle, { prefillChunk: 0 });
    const whole = await fresh.forward([kept], { useCache: false });
    const V = bundle.spec.vocabSize;
    expect(differingPositions(slid.rowLogits[0]!, whole.rowLogits[0]!.subarray(40 * V), V)).toEqual([]);
  });
});

describe('chunked prefill', () => {
  it('a prompt longer than prefillChunk runs in chunks and returns the logits one whole call gives; bad values are refused', async () => {
    const { bundlePath } = await convert(GPT2_DIR, { out: join(tempDir('snn-chunk-'), 'm.snn') });
    const b = await loadBundle(bundlePath);
    const calls: number[] = [];
    const session = await b.session(false);
    const run = session.run.bind(session);
    session.run = (input, extra) => { calls.push(input.seq); return run(input, extra); };
    const chunked = await new TemporalSpikeProcessor(b, { prefillChunk: 32 }).forward([TEXT.slice(0, 100)], { useCache: false });
    expect(calls).toEqual([32, 32, 32, 4]);
    const whole = await new TemporalSpikeProcessor(b, { prefillChunk: 0 }).forward([TEXT.slice(0, 100)], { useCache: false });
    expect(differingPositions(chunked.logits, whole.logits, b.spec.vocabSize)).toEqual([]);
    expect(() => new TemporalSpikeProcessor(b, { prefillChunk: -1 })).toThrow(/prefillChunk/);
    await b.release();
  });
});
