// Bad input gives typed errors, and a failed call (bad ids, overflow, a session failure) changes no conversation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHfAnn, type HfAnnModel } from '../../src/open/hf-ann.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import { GPT2_DIR } from '../helpers.js';
import { bytes, maxAbsDiff, rejection, spyOnSteps } from './tsp-helpers.js';

let model: HfAnnModel;
beforeAll(async () => { model = await loadHfAnn(GPT2_DIR); });
afterAll(async () => { await model.release(); });

/** A processor holding conversation 'a' (and 'b'), and a check that 'a' still answers exactly as a fresh full forward. */
async function withConversations(opts: { maxContextLength?: number } = {}) {
  const tsp = new TemporalSpikeProcessor(model, opts);
  const reference = new TemporalSpikeProcessor(model);
  await tsp.forward([bytes('ROMEO: What light'), bytes('Hi')], { batchIds: ['a', 'b'] });
  const snapshot = () => ({ a: tsp.getTokenIds('a'), b: tsp.getTokenIds('b'), pa: tsp.getPositionIds('a'), pb: tsp.getPositionIds('b'), floats: tsp.cachedFloats() });
  const before = snapshot();
  const stillRight = async () => {
    expect(snapshot()).toEqual(before);
    const next = bytes(' is that?');
    const out = await tsp.forward([next], { batchIds: ['a'] });
    const history = [...before.a, ...next];
    const full = await reference.forward(history, { useCache: false });
    expect(out.positionIds[0]).toEqual(next.map((_, i) => before.a.length + i));
    expect(maxAbsDiff(out.rowLogits[0]!, full.rowLogits[0]!.subarray(before.a.length * 257))).toBe(0);
  };
  return { tsp, stillRight };
}

describe('bad input', () => {
  it('rejects an empty prompt: no ids, an empty row, a row masked out entirely, an empty generate prompt', async () => {
    const tsp = new TemporalSpikeProcessor(model);
    for (const call of [() => tsp.forward([]), () => tsp.forward([[]]), () => tsp.forward([[1, 2], []]), () => tsp.forward([[1, 2]], { attentionMask: [[0, 0]] })]) {
      const e = await rejection(call);
      expect(e.code).toBe('INPUT_INVALID');
      expect(e.message).toMatch(/empty prompt/);
    }
    expect((await rejection(() => tsp.generate([]).next())).code).toBe('INPUT_INVALID');
    expect(tsp.conversations()).toEqual([]);
  });

  it('rejects token ids outside the vocabulary, naming the id, where it is and the vocabulary size', async () => {
    const tsp = new TemporalSpikeProcessor(model);
    for (const bad of [257, -1, 1.5, Number.NaN, 1e9]) {
      const e = await rejection(() => tsp.forward([[65, 66], [67, bad]], { batchIds: ['x', 'y'] }));
      expect(e.code).toBe('INPUT_INVALID');
      expect(e.message).toContain(`token id ${String(bad)} at [1, 1]`);
      expect(e.message).toContain('[0, 257)');
    }
    expect((await rejection(() => tsp.generate([300]).next())).code).toBe('INPUT_INVALID');
  });

  it('rejects a mask whose shape differs from the ids, and mask values other than 0 and 1', async () => {
    const tsp = new TemporalSpikeProcessor(model);
    const cases: [number[][], number[][]][] = [[[[1, 2, 3]], [[1, 1]]], [[[1, 2], [3, 4]], [[1, 1]]], [[[1, 2]], [[1, 1], [1, 1]]]];
    for (const [ids, mask] of cases) {
      const e = await rejection(() => tsp.forward(ids, { attentionMask: mask }));
      expect(e.code).toBe('INPUT_INVALID');
      expect(e.message).toMatch(/attentionMask has shape .* but inputIds has shape/);
    }
    expect((await rejection(() => tsp.forward([[1, 2]], { attentionMask: [[1, 2]] }))).code).toBe('INPUT_INVALID');
  });

  it('rejects an unknown batch id in getPositionIds, getTokenIds, resetCache and truncateCache, and bad batchIds in forward', async () => {
    const tsp = new TemporalSpikeProcessor(model);
    await tsp.forward([bytes('Hi')], { batchIds: ['known'] });
    for (const call of [() => tsp.getPositionIds('nope'), () => tsp.getTokenIds('nope'), () => tsp.resetCache('nope'), () => tsp.truncateCache('nope', 0)]) {
      const e = await rejection(call);
      expect(e.code).toBe('BATCH_UNKNOWN');
      expect(e.message).toContain('"nope"');
      expect(e.message).toContain('"known"');
    }
    expect((await rejection(() => tsp.forward([[1], [2]], { batchIds: ['one'] }))).code).toBe('INPUT_INVALID');
    expect((await rejection(() => tsp.forward([[1], [2]], { batchIds: ['same', 'same'] }))).code).toBe('INPUT_INVALID');
    expect(tsp.conversations()).toEqual(['known']);
  });

  it("rejects a prompt longer than the context under 'error', naming the limit", async () => {
    const tsp = new TemporalSpikeProcessor(model, { maxContextLength: 64 });
    const e = await rejection(() => tsp.forward([Array<number>(65).fill(65)], { batchIds: ['long'] }));
    expect(e.code).toBe('CONTEXT_OVERFLOW');
    expect(e.message).toContain('64');
    expect((await rejection(() => tsp.generate(Array<number>(129).fill(65), { maxNewTokens: 2 }).next())).code).toBe('CONTEXT_OVERFLOW');
    await tsp.forward([Array<number>(60).fill(65)], { batchIds: ['grows'] });
    const grown = await rejection(() => tsp.forward([Array<number>(5).fill(65)], { batchIds: ['grows'] }));
    expect(grown.code).toBe('CONTEXT_OVERFLOW');
    expect(grown.message).toMatch(/holds 60 tokens; 5 more exceed the context of 64/);
    expect(tsp.getTokenIds('grows')).toHaveLength(60);
  });

  it('rejects options out of range', async () => {
    expect((await rejection(() => new TemporalSpikeProcessor(model, { maxContextLength: 129 }))).code).toBe('OPTION_INVALID');
    expect((await rejection(() => new TemporalSpikeProcessor(model, { maxContextLength: 0 }))).code).toBe('OPTION_INVALID');
    expect((await rejection(() => new TemporalSpikeProcessor(model, { overflow: 'wrap' as 'error' }))).code).toBe('OPTION_INVALID');
    const tsp = new TemporalSpikeProcessor(model);
    for (const opts of [{ temperature: -1 }, { topK: 1.5 }, { topP: 0 }, { topP: 1.5 }, { repetitionPenalty: 0 }, { maxNewTokens: 0 }, { seed: 0.5 }, { stop: [''] }]) {
      expect((await rejection(() => tsp.generate([65], opts).next())).code).toBe('OPTION_INVALID');
    }
    expect(() => tsp.truncateCache('x', 1)).toThrow();
  });
});

describe('a failed call changes no conversation', () => {
  it('after bad ids in another row of the batch', async () => {
    const { tsp, stillRight } = await withConversations();
    await rejection(() => tsp.forward([bytes('more'), [999]], { batchIds: ['a', 'b'] }));
    await stillRight();
  });

  it('after a context overflow in another row of the batch', async () => {
    const { tsp, stillRight } = await withConversations({ maxContextLength: 40 });
    await rejection(() => tsp.forward([bytes('more'), Array<number>(39).fill(66)], { batchIds: ['a', 'b'] }));
    await stillRight();
  });

  it('after onnxruntime fails the step', async () => {
    const { tsp, stillRight } = await withConversations();
    const spy = spyOnSteps(await model.session(true));
    try {
      spy.failNext(new Error('injected failure'));
      const e = await rejection(() => tsp.forward([bytes(' more'), bytes(' too')], { batchIds: ['a', 'b'] }));
      expect(e.code).toBe('RUN_FAILED');
      expect(e.message).toContain('injected failure');
      expect(tsp.conversations()).toEqual(['a', 'b']);
    } finally {
      spy.restore();
    }
    await stillRight();
  });

  it('after an unknown id, a bad mask and a failed generate', async () => {
    const { tsp, stillRight } = await withConversations();
    await rejection(() => tsp.getPositionIds('c'));
    await rejection(() => tsp.forward([bytes('xy')], { batchIds: ['a'], attentionMask: [[1]] }));
    await rejection(() => tsp.generate([999], { batchId: 'a' }).next());
    await stillRight();
  });
});
