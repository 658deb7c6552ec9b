// Streamed spike counts (per-channel sums computed in the graph, windows fed in chunks over the KV cache)
// against whole-tensor counts of the same windows' spike planes; the chunked fidelity against evaluate();
// and the report budget refusal.
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { isSnnError } from '../../src/errors/index.js';
import { collectSpikes } from '../../src/report/collect-spikes.js';
import { buildSpikeReport } from '../../src/report/collect.js';
import { fidelityCurve } from '../../src/report/fidelity.js';
import { openReportSource, type ReportSource } from '../../src/report/source.js';
import { SpikeCounter } from '../../src/report/spike-count.js';
import { evaluate } from '../../src/runtime/evaluate.js';
import { openGraphSession } from '../../src/open/graph-session.js';
import { windowInput } from '../../src/runtime/windows.js';
import { GPT2_DIR, tempDir } from '../helpers.js';

const FAST = { calibration: { samples: 8, length: 64 } } as const;
const WINDOW = 128;

/** Every count of a site, the per-channel sums included, as plain data for toEqual. */
const view = (c: SpikeCounter) => ({
  site: c.site, elements: c.elements, events: c.events, spikes: c.spikes, positive: c.positiveSpikes, negative: c.negativeSpikes,
  nonBinary: c.nonBinaryEvents, trainsClipped: c.trainsClipped, stepsClipped: c.stepsClipped, perChannel: [...c.perChannel],
});

/** The reference: each window run whole, every site's spike and saturation tensors fetched and counted in JS. */
async function wholeTensorCounts(source: ReportSource, windows: readonly (readonly number[])[]): Promise<SpikeCounter[]> {
  const session = await openGraphSession(source.graph, 'snn', { exposeSpikes: true });
  try {
    const counters = source.sites.map((s) => new SpikeCounter(s.site, s.channels));
    for (const ids of windows) {
      const out = await session.run(windowInput(ids, [0], ids.length), source.sites.flatMap((s) => [s.output, s.saturation]));
      source.sites.forEach((s, i) => {
        counters[i]!.add(out.extra.get(s.output)!.data);
        counters[i]!.addSaturation(out.extra.get(s.saturation)!.data);
      });
    }
    return counters;
  } finally {
    await session.release();
  }
}

describe.each([
  { code: 'weighted', timesteps: 7, levels: 1 },
  { code: 'rate', timesteps: 4, levels: 1 },
  // Multi-level neurons emit integers beyond ±1: the non-binary counts are not all zero.
  { code: 'rate', timesteps: 4, levels: 3 },
])('spike counts of a $code bundle, $levels level(s)', ({ code, timesteps, levels }) => {
  let source: ReportSource;
  let windows: number[][];
  beforeAll(async () => {
    const dir = tempDir('snn-counts-');
    const { bundlePath } = await convert(undefined, { ...FAST, code, timesteps, levels, out: join(dir, 'model.snn') });
    source = await openReportSource(bundlePath);
    const ids = source.tokenizer.encode(readFileSync(join(GPT2_DIR, 'heldout.txt'), 'utf8'));
    windows = [ids.slice(0, WINDOW), ids.slice(WINDOW, 2 * WINDOW)];
  });
  afterAll(async () => { await source?.release(); });

  it('streamed in chunks of 16 tokens, equal the whole-tensor counts of the same windows, site by site and channel by channel', async () => {
    const site = source.sites[Math.floor(source.sites.length / 2)]!;
    const streamed = await collectSpikes(source, { windows, site, chunk: 16 });
    const whole = await wholeTensorCounts(source, windows);
    expect(streamed.counters.map(view)).toEqual(whole.map(view));
    expect(whole.reduce((a, c) => a + c.spikes, 0)).toBeGreaterThan(0);
    if (levels > 1) expect(whole.reduce((a, c) => a + c.nonBinaryEvents, 0)).toBeGreaterThan(0);
    expect(whole.every((c) => c.elements === timesteps * 2 * WINDOW * c.channels)).toBe(true);
    expect(streamed.membrane?.check).toBeDefined();
  });

  it('gives, window fed in chunks, the perplexities, agreement and KL of evaluate() on whole windows', async () => {
    const curve = await fidelityCurve(source, windows, [], { chunk: 16, progress: () => undefined });
    const r = await evaluate(source, windows.flat(), { window: WINDOW });
    const row = curve.rows[0]!;
    expect(row.timesteps).toBe(timesteps);
    expect(row.annPpl).toBeCloseTo(r.ann.ppl, 6);
    expect(row.snnPpl).toBeCloseTo(r.snn!.ppl, 6);
    expect(row.top1Agreement).toBe(r.top1_agreement);
    expect(row.kl).toBeCloseTo(r.kl!, 9);
    expect(curve.tokens).toBe(2 * WINDOW);
  });

  it('scores the bundle\'s own T from the spike pass\'s logits exactly as from a second run of the bundle', async () => {
    const dir = tempDir('snn-own-logits-');
    const fd = openSync(join(dir, 'logits.f32'), 'w+');
    try {
      await collectSpikes(source, { windows, site: undefined, chunk: 16, logitsTo: fd });
      expect(fstatSync(fd).size).toBe(2 * WINDOW * source.spec.vocabSize * 4);
      const reused = await fidelityCurve(source, windows, [], { chunk: 16, progress: () => undefined, ownLogits: fd });
      const rerun = await fidelityCurve(source, windows, [], { chunk: 16, progress: () => undefined });
      expect(reused.rows).toEqual(rerun.rows);
      // With a sweep, the own T is scored in the same pass as the first T that runs: every row as if scored alone.
      const sweep = [timesteps - 2, timesteps + 2];
      const together = await fidelityCurve(source, windows, sweep, { chunk: 16, progress: () => undefined, ownLogits: fd });
      const alone = [];
      for (const T of sweep) alone.push(await fidelityCurve(source, windows, [T], { chunk: 16, progress: () => undefined })); // one model at a time
      expect(together.rows.map((r) => r.timesteps)).toEqual([timesteps - 2, timesteps, timesteps + 2]);
      expect(together.rows).toEqual([alone[0]!.rows[0], rerun.rows[0], alone[1]!.rows[1]]);
      expect(new Set(together.rows.map((r) => r.kl)).size).toBe(3);
    } finally {
      closeSync(fd);
    }
  });

  it('refuses a report budget too small for one window before running anything, naming what one window needs', async () => {
    const err = await buildSpikeReport(source, { window: WINDOW, windows: 1, memoryBudget: 1024 }).then(() => null, (e: unknown) => e);
    expect(isSnnError(err) && err.code).toBe('REPORT_BUDGET');
    expect(String((err as Error).message)).toMatch(/needs about \d+ MiB .* budget is 0 MiB/);
  });
});
