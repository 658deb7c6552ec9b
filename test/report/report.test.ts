// SpikeScope's report.json: its spike totals against an independent count of the bundle's raw spike tensors,
// fan-out and MAC arithmetic, the membrane replay, regeneration in a finished bundle, and a recipe without neurons.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { countMacs } from '../../src/report/graph-facts.js';
import type { SpikeReport } from '../../src/report/types.js';
import { regenerateSpikeReport, writeSpikeReport } from '../../src/report/write.js';
import { loadBundle } from '../../src/runtime/model.js';
import { windowInput } from '../../src/runtime/windows.js';
import { tempDir } from '../helpers.js';

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

  it('counts SOPs as spikes × fan-out, the fan-out read off the consuming Linears (1 into attention and the readout)', () => {
    const D = 128;
    const expected: Record<string, number> = { ln_1: 3 * D, 'attn.q': 1, 'attn.k': 1, 'attn.v': 1, 'attn.out': D, ln_2: 4 * D, 'mlp.act': D, ln_f: 1 };
    for (const s of report.sites) {
      expect(s.fanOut, s.site).toBe(expected[s.role]);
      expect(s.sops).toBe(s.spikes * s.fanOut);
      expect(s.sopsEvents).toBe(s.events * s.fanOut);
    }
    expect(report.totals.sops).toBe(report.sites.reduce((a, s) => a + s.sops, 0));
  });

  it('prices the energy proxy as SPEC §6 says, and labels it a proxy', () => {
    const t = report.totals;
    expect(t.energy.annPicojoules).toBeCloseTo(4.6 * t.annMacs, 3);
    expect(t.energy.snnPicojoules).toBeCloseTo(0.9 * t.sops + 4.6 * t.snnFloatMacs, 3);
    expect(report.energyModel.label).toMatch(/proxy/);
    // Spike-driven Linears leave no float MACs; the LM head (on the readout) and the attention products do.
    const head = report.macs.find((m) => m.node === 'lm_head')!;
    expect(head.snnFloatMacs).toBe(head.annMacs);
    expect(report.macs.filter((m) => m.op === 'Linear' && m.node !== 'lm_head').every((m) => m.snnFloatMacs === 0)).toBe(true);
  });

  it('counts attention MACs over the causally visible keys, T times (plus the own-key terms) in the SNN', async () => {
    const b = await loadBundle(bundle);
    const macs = countMacs(b.contents.graph, 4, 1);
    await b.release();
    const attn = macs.find((m) => m.node === 'h.0.attn')!;
    expect(attn.annMacs).toBe(2 * 128 * (1 + 2 + 3 + 4));
    expect(attn.snnFloatMacs).toBe(8 * (attn.annMacs + 2 * 128 * 4));
  });

  it('replays the membrane from the observed input current and re-derives every spike of the site', () => {
    const m = report.membrane!;
    expect(m.site).toBe(report.raster!.site);
    expect(m.check.mismatches).toBe(0);
    expect(m.check.compared).toBe(8 * 48 * report.sites.find((s) => s.site === m.site)!.channels);
    const levels = report.sites.find((s) => s.site === m.site)!.levels;
    for (const tr of m.traces) {
      expect(tr.steps).toHaveLength(8);
      // Round to nearest: an unclipped spike is within ½ of the membrane it fired from.
      for (const st of tr.steps) if (Math.abs(st.spike) < levels) expect(Math.abs(st.membrane - st.spike)).toBeLessThanOrEqual(0.5);
    }
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
    expect(r.totals.sops).toBe(0);
    expect(r.totals.snnFloatMacs).toBeGreaterThan(r.totals.annMacs);
  });
});
