// report.html: self-contained, and rendered by headless Chromium with every chart's SVG and its marks in the DOM.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { writeSpikeReport } from '../../src/report/write.js';
import { tempDir } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.warn(`report-html: skipping the headless rendering test: ${CHROMIUM} is absent (Debian package chromium)`);

const CHART_IDS = ['firing-rate-by-site', 'energy-by-layer', 'raster', 'firing-rate-histogram', 'membrane', 'fidelity-vs-t', 'throughput-vs-seq', 'memory-vs-seq'];

function chromium(args: readonly string[], dir: string): string {
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${tempDir('snn-chromium-')}`];
  const r = spawnSync(CHROMIUM, [...flags, ...args], { cwd: dir, encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`chromium exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe('SpikeScope report.html', () => {
  let dir: string;
  let html: string;
  beforeAll(async () => {
    dir = tempDir('snn-report-html-');
    const { bundlePath } = await convert(undefined, {
      calibration: { samples: 8, length: 64 }, out: join(dir, 'model.snn'), timesteps: 4,
      addExtra: (d) => writeSpikeReport(d, { windows: 1, window: 32, sweep: [2], lengths: [16, 32] }).then(() => undefined),
    });
    html = join(bundlePath, 'spike.report', 'report.html');
  });

  it('is self-contained: inline SVG charts from Vega, no scripts, nothing fetched', () => {
    const text = readFileSync(html, 'utf8');
    expect(text).not.toMatch(/<script/i);
    expect(text).not.toMatch(/(src|href)="(https?:)?\/\//i);
    for (const id of CHART_IDS) expect(text).toContain(`<figure id="${id}"`);
    expect((text.match(/<svg [^>]*class="marks"/g) ?? []).length).toBe(CHART_IDS.length);
  });

  it.skipIf(!HAS_CHROMIUM)(`renders in headless Chromium with every chart drawn (SVG with marks in the DOM, a non-blank screenshot)${HAS_CHROMIUM ? '' : ` — skipped: ${CHROMIUM} is absent (Debian package chromium)`}`, () => {
    const dom = chromium(['--dump-dom', pathToFileURL(html).href], dir);
    expect(dom).not.toMatch(/parsererror/);
    const figures = dom.split('<figure').slice(1);
    expect(figures.map((f) => /id="([^"]+)"/.exec(f)?.[1])).toEqual(CHART_IDS);
    for (const f of figures) {
      const svgs = f.match(/<svg\b/g) ?? [];
      expect(svgs.length).toBe(1);
      // Vega draws each mark as a <g class="mark-… role-mark"> holding one element per datum.
      const marks = [...f.matchAll(/<g class="mark-(\w+) role-mark[^"]*"[^>]*>(.*?)<\/g>/gs)].filter(([, , body]) => /<(path|line|rect|circle|text)\b/.test(body ?? ''));
      expect(marks.length, /id="([^"]+)"/.exec(f)?.[1]).toBeGreaterThan(0);
    }
    const shot = join(dir, 'report.png');
    chromium(['--window-size=1280,4000', `--screenshot=${shot}`, pathToFileURL(html).href], dir);
    expect(statSync(shot).size).toBeGreaterThan(50_000);
  });
});
