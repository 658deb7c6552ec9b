// forward(…, { logits: 'last' }): each row's last token's logits only, bit for bit those of a full forward, state unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHfAnn } from '../../src/open/hf-ann.js';
import type { RunnableModel } from '../../src/runtime/model.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import { GPT2_DIR } from '../helpers.js';

describe("TemporalSpikeProcessor.forward with logits: 'last'", () => {
  let model: RunnableModel;
  beforeAll(async () => { model = await loadHfAnn(GPT2_DIR); });
  afterAll(async () => { await model.release(); });

  // Rows of 70 and 45 real tokens (the second padded by the mask), prefilled in chunks of 16: the last chunk is short.
  const long = Array.from({ length: 70 }, (_, i) => (i * 37 + 11) % 200);
  const short = [...Array.from({ length: 45 }, (_, i) => (i * 53 + 7) % 200), ...new Array<number>(25).fill(0)];
  const mask = [new Array<number>(70).fill(1), [...new Array<number>(45).fill(1), ...new Array<number>(25).fill(0)]];

  it('gives each row\'s last real token\'s logits of a full forward, and the same conversations after', async () => {
    const V = model.spec.vocabSize;
    const [full, last] = [new TemporalSpikeProcessor(model, { prefillChunk: 16 }), new TemporalSpikeProcessor(model, { prefillChunk: 16 })];
    const a = await full.forward([long, short], { attentionMask: mask, batchIds: ['x', 'y'] });
    const b = await last.forward([long, short], { attentionMask: mask, batchIds: ['x', 'y'], logits: 'last' });
    expect(b.dims).toEqual([2, 1, V]);
    expect(b.rowLogits.map((r) => r.length)).toEqual([V, V]);
    a.rowLogits.forEach((row, r) => {
      expect(b.rowLogits[r]).toEqual(row.subarray(row.length - V));
      expect(b.logits.subarray(r * V, (r + 1) * V)).toEqual(b.rowLogits[r]);
    });
    expect(b.positionIds).toEqual(a.positionIds);
    // The caches are the same: the next token's logits agree bit for bit.
    const [na, nb] = [await full.forward([[5], [9]], { batchIds: ['x', 'y'] }), await last.forward([[5], [9]], { batchIds: ['x', 'y'] })];
    expect(nb.rowLogits).toEqual(na.rowLogits);
    await Promise.all([full.release(), last.release()]);
  });

  it('without chunking too (a feed within one call)', async () => {
    const V = model.spec.vocabSize;
    const tsp = new TemporalSpikeProcessor(model);
    const a = await tsp.forward([long], { useCache: false });
    const b = await tsp.forward([long], { useCache: false, logits: 'last' });
    expect(b.rowLogits[0]).toEqual(a.rowLogits[0]!.subarray(69 * V));
    await tsp.release();
  });

  it('refuses any other value with OPTION_INVALID before running', async () => {
    const tsp = new TemporalSpikeProcessor(model);
    await expect(tsp.forward([long], { logits: 'first' as 'last' })).rejects.toMatchObject({ code: 'OPTION_INVALID' });
    expect(tsp.conversations()).toEqual([]);
    await tsp.release();
  });
});
