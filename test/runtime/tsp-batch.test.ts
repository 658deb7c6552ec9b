// Batch isolation: a conversation's outputs do not depend on who shares its session calls, on resets of others, or on late joiners.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { SnnError } from '../../src/errors/index.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import { GPT2_DIR, tempDir } from '../helpers.js';
import { bytes, FAST, fedRows, maxAbsDiff, spyOnSteps } from './tsp-helpers.js';

const ISOLATION = 1e-5;
const TURNS: Record<string, readonly string[]> = {
  a: ['ROMEO: But soft, what light through yonder window breaks?\n', 'JULIET: Ay me!\n', 'ROMEO: She speaks.\n'],
  b: ['Hi.\n', 'What news from Verona, good sir, what news?\n', 'None.\n'],
  c: ['KING HENRY: Once more unto the breach!\n', 'Dear friends.\n', 'Once more.\n'],
};

let bundle: Bundle;
beforeAll(async () => {
  const { bundlePath } = await convert(GPT2_DIR, { ...FAST, timesteps: 16, recipe: 'faithful', out: join(tempDir('snn-tsp-batch-'), 'm.snn') });
  bundle = await loadBundle(bundlePath);
});
afterAll(async () => { await bundle.release(); });

describe.each([{ mode: 'SNN', ann: false }, { mode: 'ANN', ann: true }])('$mode: batch isolation', ({ ann }) => {
  it('gives a conversation the same logits alone as batched with conversations of other lengths, turn after turn', async () => {
    const batched = new TemporalSpikeProcessor(bundle, { ann });
    const alone = new TemporalSpikeProcessor(bundle, { ann });
    const spy = spyOnSteps(await bundle.session(ann));
    let worst = 0;
    try {
      for (let t = 0; t < 3; t++) {
        const before = spy.steps.length;
        const out = await batched.forward(['a', 'b', 'c'].map((id) => bytes(TURNS[id]![t]!)), { batchIds: ['a', 'b', 'c'] });
        expect(spy.steps.length - before).toBe(1); // rows of different lengths in one session call
        for (const [r, id] of ['a', 'b', 'c'].entries()) {
          const solo = await alone.forward([bytes(TURNS[id]![t]!)], { batchIds: [id] });
          worst = Math.max(worst, maxAbsDiff(out.rowLogits[r]!, solo.rowLogits[0]!));
        }
      }
      // Decode steps: one token each on top of histories of different lengths.
      for (let step = 0; step < 4; step++) {
        const next = [101 + step, 32, 10];
        const out = await batched.forward(next.map((x) => [x]), { batchIds: ['a', 'b', 'c'] });
        for (const [r, id] of ['a', 'b', 'c'].entries()) {
          const solo = await alone.forward([[next[r]!]], { batchIds: [id] });
          worst = Math.max(worst, maxAbsDiff(out.rowLogits[r]!, solo.rowLogits[0]!));
          expect(out.positionIds[r]).toEqual(solo.positionIds[0]);
        }
      }
    } finally {
      spy.restore();
    }
    for (const id of ['a', 'b', 'c']) expect(batched.getTokenIds(id)).toEqual(alone.getTokenIds(id));
    expect(worst).toBeLessThanOrEqual(ISOLATION);
  });

  it("leaves 'b' untouched when 'a' is reset, and 'a' starts over from position 0", async () => {
    const tsp = new TemporalSpikeProcessor(bundle, { ann });
    const control = new TemporalSpikeProcessor(bundle, { ann });
    await tsp.forward([bytes(TURNS['a']![0]!), bytes(TURNS['b']![0]!)], { batchIds: ['a', 'b'] });
    await control.forward([bytes(TURNS['b']![0]!)], { batchIds: ['b'] });
    const bTokens = tsp.getTokenIds('b');
    const bPositions = tsp.getPositionIds('b');
    tsp.resetCache('a');
    expect(tsp.conversations()).toEqual(['b']);
    expect(tsp.getTokenIds('b')).toEqual(bTokens);
    expect(tsp.getPositionIds('b')).toEqual(bPositions);
    expect(() => tsp.getPositionIds('a')).toThrow(SnnError);
    const out = await tsp.forward([bytes(TURNS['a']![1]!), bytes(TURNS['b']![1]!)], { batchIds: ['a', 'b'] });
    const ref = await control.forward([bytes(TURNS['b']![1]!)], { batchIds: ['b'] });
    expect(maxAbsDiff(out.rowLogits[1]!, ref.rowLogits[0]!)).toBeLessThanOrEqual(ISOLATION);
    expect(out.positionIds[0]![0]).toBe(0);
    const fresh = await control.forward(bytes(TURNS['a']![1]!), { useCache: false });
    expect(maxAbsDiff(out.rowLogits[0]!, fresh.rowLogits[0]!)).toBeLessThanOrEqual(ISOLATION);
    tsp.resetCache();
    expect(tsp.conversations()).toEqual([]);
  });

  it('lets a new conversation join a batch of ongoing ones', async () => {
    const tsp = new TemporalSpikeProcessor(bundle, { ann });
    const reference = new TemporalSpikeProcessor(bundle, { ann });
    await tsp.forward([bytes(TURNS['a']![0]!), bytes(TURNS['b']![0]!)], { batchIds: ['a', 'b'] });
    await tsp.forward([bytes(TURNS['a']![1]!), bytes(TURNS['b']![1]!)], { batchIds: ['a', 'b'] });
    const rows = [bytes(TURNS['a']![2]!), bytes(TURNS['c']![0]!), bytes(TURNS['b']![2]!)];
    const out = await tsp.forward(rows, { batchIds: ['a', 'c', 'b'] });
    expect(out.positionIds[1]).toEqual(rows[1]!.map((_, i) => i));
    for (const [r, id] of ['a', 'c', 'b'].entries()) {
      const history = tsp.getTokenIds(id);
      const full = await reference.forward(history, { useCache: false });
      const n = rows[r]!.length;
      expect(maxAbsDiff(out.rowLogits[r]!, full.rowLogits[0]!.subarray((history.length - n) * bundle.spec.vocabSize))).toBeLessThanOrEqual(ISOLATION);
    }
  });
});

describe('padding and layout', () => {
  it('treats mask-0 slots as padding: not fed to the conversation, zero logits, same results as unpadded rows', async () => {
    const tsp = new TemporalSpikeProcessor(bundle, { ann: true });
    const plain = new TemporalSpikeProcessor(bundle, { ann: true });
    const x = bytes('Good morrow.');
    const y = bytes('Hi');
    const padded = [x, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...y]];
    const mask = [x.map(() => 1), [...Array<number>(10).fill(0), 1, 1]];
    const out = await tsp.forward(padded, { attentionMask: mask, batchIds: ['x', 'y'] });
    expect(out.dims).toEqual([2, 12, 257]);
    expect(tsp.getTokenIds('y')).toEqual(y);
    expect(out.positionIds).toEqual([x.map((_, i) => i), [0, 1]]);
    const V = 257;
    expect(out.logits.subarray(12 * V, 22 * V).every((v) => v === 0)).toBe(true);
    const ref = await plain.forward([x, y], { batchIds: ['x', 'y'] });
    expect(maxAbsDiff(out.logits.subarray(22 * V, 24 * V), ref.rowLogits[1]!)).toBe(0);
    expect(maxAbsDiff(out.rowLogits[0]!, ref.rowLogits[0]!)).toBe(0);
  });

  it('with batchAlignment 1 packs decode steps of any lengths into one call, equal to running alone up to rounding', async () => {
    const tight = new TemporalSpikeProcessor(bundle, { ann: true, batchAlignment: 1 });
    const alone = new TemporalSpikeProcessor(bundle, { ann: true });
    const spy = spyOnSteps(await bundle.session(true));
    try {
      const rows = [bytes('A'), bytes('Bb'), bytes('Ccc'), bytes('Dddd')];
      await tight.forward(rows, { batchIds: ['1', '2', '3', '4'] });
      const before = spy.steps.length;
      const out = await tight.forward([[10], [10], [10], [10]], { batchIds: ['1', '2', '3', '4'] });
      expect(spy.steps.length - before).toBe(1);
      expect(fedRows(spy.steps.slice(before)).map((r) => r.positions)).toEqual([[1], [2], [3], [4]]);
      for (const [r, ids] of rows.entries()) {
        const solo = await alone.forward([...ids, 10], { useCache: false });
        expect(maxAbsDiff(out.rowLogits[r]!, solo.rowLogits[0]!.subarray(ids.length * 257))).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      spy.restore();
    }
  });
});
