// SpikeScope's report.json: its spike totals against an independent count of the bundle's raw spike tensors,
// fan-out and MAC arithmetic, the membrane replay, regeneration in a finished bundle, and a recipe without neurons.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { importHfModel } from '../../src/import/hf/index.js';
import { runRecipe } from '../../src/passes/pipeline.js';
import { countOps } from '../../src/report/op-costs.js';
import { PRICES } from '../../src/report/energy.js';
import type { SpikeReport } from '../../src/report/types.js';
import { regenerateSpikeReport, writeSpikeReport } from '../../src/report/write.js';
import { loadBundle } from '../../src/runtime/model.js';
import { windowInput } from '../../src/runtime/windows.js';
import { GPT2_DIR, tempDir } from '../helpers.js';

const FAST = { calibration: { samples: 8, length: 64 } } as const;
const LIGHT = { windows: 2, window: 48, sweep: [4], lengths: [16, 1000] } as const;

const readReport = (bundle: string): SpikeReport => JSON.parse(readFileSync(join(bundle, 'spike.report', 'report.json'), 'utf8')) as SpikeReport;

describe('SpikeScope report.json', () => {
  let dir: string;
  let bundle: string;
  let report: SpikeReport;
  beforeAll(async () => {
    dir = tempDir('snn-report-');
    bundle = (await convert(undefined, { ...FAST, out: join(dir, 'model.snn'), timesteps: 8, addExtra: (d) => writeSpikeReport(d, LIGHT).then(() => undefined) })).bundlePath;
    report = readReport(bundle);
  });

  it('is written into the bundle at conversion and sealed by meta.json (loadBundle verifies it)', async () => {
    expect(existsSync(join(bundle, 'spike.report', 'report.html'))).toBe(true);
    const b = await loadBundle(bundle);
    expect(Object.keys(b.meta.files)).toEqual(expect.arrayContaining(['spike.report/report.json', 'spike.report/report.html']));
    await b.release();
  });

  it('has spike totals equal to an independent count of the bundle\'s raw spike outputs', async () => {
    const b = await loadBundle(bundle);
    const snn = await b.session(false);
    const outputs = b.spikeOutputs;
    const count = new Map(outputs.map((o) => [o.site, { elements: 0, events: 0, spikes: 0, nonBinary: 0 }]));
    for (const ids of report.input.windows) {
      const out = await snn.run(windowInput(ids, [0], ids.length), outputs.map((o) => o.output));
      for (const o of outputs) {
        const { data, dims } = out.extra.get(o.output)!;
        expect(dims).toEqual([8, 1, ids.length, o.channels]);
        const c = count.get(o.site)!;
        c.elements += data.length;
        for (const v of data) {
          if (v !== 0) { c.events += 1; c.spikes += Math.abs(v); }
          if (Math.abs(v) > 1) c.nonBinary += 1;
        }
      }
    }
    await b.release();
    expect(report.sites.map((s) => s.site)).toEqual(outputs.map((o) => o.site));
    for (const s of report.sites) {
      const c = count.get(s.site)!;
      expect({ site: s.site, elements: s.elements, events: s.events, spikes: s.spikes, nonBinary: s.nonBinaryEvents })
        .toEqual({ site: s.site, elements: c.elements, events: c.events, spikes: c.spikes, nonBinary: c.nonBinary });
    }
    const total = [...count.values()].reduce((a, c) => ({ events: a.events + c.events, spikes: a.spikes + c.spikes }), { events: 0, spikes: 0 });
    expect(report.totals.events).toBe(total.events);
    expect(report.totals.spikes).toBe(total.spikes);
    expect(report.totals.spikes).toBeGreaterThan(0);
    expect(report.totals.tokens).toBe(2 * 48);
  });

  it('counts SOPs as spikes × fan-out: outFeatures of the consuming Linear, none for Q/K/V (the attention products take u·q as floats), the vocabulary for the LM head', () => {
    const D = 128;
    const expected: Record<string, number> = { ln_1: 3 * D, 'attn.q': 0, 'attn.k': 0, 'attn.v': 0, 'attn.out': D, ln_2: 4 * D, 'mlp.act': D, ln_f: 257 };
    for (const s of report.sites) {
      expect(s.fanOut, s.site).toBe(expected[s.role]);
      expect(s.sops).toBe(s.spikes * s.fanOut);
      expect(s.sopsEvents).toBe(s.events * s.fanOut);
    }
    const tokens = report.totals.tokens;
    expect(report.totals.perToken.snn.sops).toBeCloseTo(report.sites.reduce((a, s) => a + s.sops, 0) / tokens, 6);
  });

  it('prices every side by one walk: ANN MACs by hand from the config, only the attention products left as float MACs in the SNN, membrane updates T × channels', () => {
    const t = report.totals.perToken;
    const D = 128, V = 257, L = 4, visible = (48 + 1) / 2;
    // Per token: c_attn, c_proj, c_fc, mlp c_proj per block, the LM head, Q·Kᵀ and P·V over L̄ keys.
    expect(t.ann.macs).toBe(L * (D * 3 * D + D * D + D * 4 * D + 4 * D * D) + D * V + L * 2 * D * visible);
    expect(t.snn.macs).toBe(L * 2 * D * visible);
    expect(t.snn.membrane).toBe(8 * report.sites.reduce((a, s) => a + s.channels, 0));
    // The elementwise work is the ANN's: the weighted code runs each nonlinear op once per token.
    expect(t.snn.transcendentals).toBe(t.ann.transcendentals);
    // Horowitz 45 nm: a 25-bit integer add interpolated between int8 (0.03 pJ) and int32 (0.1 pJ).
    const intAdd = 0.03 + (0.07 * 17) / 24;
    const pj = (c: typeof t.ann) => 4.6 * c.macs + 0.9 * c.adds + 3.7 * c.mults + 18.4 * c.transcendentals + 0.9 * c.conversions + intAdd * (c.sops + c.intAdds + c.membrane) + 0.3 * c.intMacs;
    expect(PRICES.mac).toBeCloseTo(4.6, 9);
    expect(PRICES.sop).toBeCloseTo(intAdd, 9);
    expect(t.energy.annPicojoules).toBeCloseTo(pj(t.ann), 3);
    expect(t.energy.snnPicojoules).toBeCloseTo(pj(t.snn), 3);
    expect(t.energy.ratio).toBeCloseTo(pj(t.snn) / pj(t.ann), 9);
    expect(report.energyModel.label).toMatch(/proxy/);
    expect(report.energyModel.window).toMatch(/2 window\(s\) of 48 tokens/);
    expect(report.layers.map((l) => l.label)).toEqual(['block 0', 'block 1', 'block 2', 'block 3', 'outside blocks']);
  });

  it('counts attention over the causally visible keys: float MACs on u·q once (weighted), T × float MACs on running means (rate)', () => {
    const graph = importHfModel(GPT2_DIR).graph;
    const window = 4, visible = 2.5, D = 128, T = 8;
    const weighted = countOps(runRecipe(graph, 'faithful', T).graph, { window, spikesPerToken: () => 1 }).find((m) => m.node === 'h.0.attn')!;
    expect(weighted.ann.macs).toBe(2 * D * visible);
    expect(weighted.snn.macs).toBe(2 * D * visible);
    expect(weighted.snn.sops).toBe(0);
    const rate = countOps(runRecipe(graph, 'faithful', T, { code: 'rate' }).graph, { window, spikesPerToken: () => 1 }).find((m) => m.node === 'h.0.attn')!;
    expect(rate.snn.macs).toBe(T * (2 * D * visible + 2 * D));
  });

  it('replays the membrane from the observed input and re-derives every spike of the site; each trace\'s digits sum back to its count', () => {
    const m = report.membrane!;
    expect(m.site).toBe(report.raster!.site);
    expect(m.check.mismatches).toBe(0);
    expect(m.check.compared).toBe(8 * 48 * report.sites.find((s) => s.site === m.site)!.channels);
    for (const tr of m.traces) {
      expect(tr.steps).toHaveLength(8);
      const count = tr.steps[0]!.membrane;
      expect(tr.steps.reduce((a, st) => a + st.spike * 2 ** (7 - st.t), 0)).toBe(count);
      for (let t = 1; t < 8; t++) expect(tr.steps[t - 1]!.spike !== 0 && tr.steps[t]!.spike !== 0).toBe(false);
    }
  });

  it('counts saturation per site from the saturation tensors: clipped trains never exceed trains', () => {
    for (const s of report.sites) {
      expect(s.saturation.trains).toBe(48 * 2 * s.channels);
      expect(s.saturation.trainsClipped).toBeLessThanOrEqual(s.saturation.trains);
      expect(s.saturation.stepsClipped).toBe(s.saturation.trainsClipped);
    }
    expect(report.totals.trainsClipped).toBe(report.sites.reduce((a, s) => a + s.saturation.trainsClipped, 0));
  });

  it('holds a raster of real spikes, the firing-rate histogram of every channel, fidelity per T and capped throughput rows', () => {
    const r = report.raster!;
    expect(r.cells.length).toBeGreaterThan(0);
    expect(r.cells.every((c) => c.value !== 0 && Number.isInteger(c.value) && r.tokens.includes(c.token) && c.step < 8)).toBe(true);
    const channels = report.sites.reduce((a, s) => a + s.channels, 0);
    expect(report.firingRateHistogram.channels).toBe(channels);
    expect(report.firingRateHistogram.bins.reduce((a, b) => a + Object.values(b.counts).reduce((x, y) => x + y, 0), 0)).toBe(channels);
    expect(report.fidelity.rows.map((x) => x.timesteps)).toEqual([4, 8]);
    expect(report.fidelity.rows.every((x) => x.ratio > 0 && x.annPpl === report.fidelity.rows[0]!.annPpl)).toBe(true);
    expect(report.throughput.rows.map((x) => [x.seq, x.capped])).toEqual([[16, false], [128, true]]);
    expect(report.throughput.rows[1]!.requested).toEqual([1000]);
  });

  it('is regenerated by regenerateSpikeReport with meta.json rewritten, so the bundle still verifies', async () => {
    const text = join(dir, 'other.txt');
    writeFileSync(text, 'Now is the winter of our discontent made glorious summer by this sun of York. '.repeat(20));
    const before = JSON.parse(readFileSync(join(bundle, 'meta.json'), 'utf8')) as { files: Record<string, string> };
    const fresh = await regenerateSpikeReport(bundle, { ...LIGHT, windows: 1, text });
    expect(fresh.input.text).toBe(text);
    const after = JSON.parse(readFileSync(join(bundle, 'meta.json'), 'utf8')) as { files: Record<string, string> };
    expect(after.files['spike.report/report.json']).not.toBe(before.files['spike.report/report.json']);
    expect(after.files['weights.safetensors']).toBe(before.files['weights.safetensors']);
    const b = await loadBundle(bundle);
    await b.release();
    expect(readReport(bundle).totals.tokens).toBe(48);
  });

  it('is written for a recipe without neurons (exact): no spikes, no raster, float MACs only', async () => {
    const exact = (await convert(undefined, { ...FAST, recipe: 'exact', out: join(dir, 'exact.snn'), timesteps: 4, addExtra: (d) => writeSpikeReport(d, { ...LIGHT, windows: 1, lengths: [16] }).then(() => undefined) })).bundlePath;
    const r = readReport(exact);
    expect(r.sites).toEqual([]);
    expect(r.raster).toBeNull();
    expect(r.membrane).toBeNull();
    expect(r.totals.perToken.snn.sops).toBe(0);
    expect(r.totals.perToken.snn.macs).toBeGreaterThan(r.totals.perToken.ann.macs);
  });
});
