// Fidelity and energy against T for the weighted and the rate code, on both shipped models, measured on
// their held-out text (no setting was chosen on it: defaults come from the dev split, bench/choose-defaults.mjs).
// Usage: node bench/code-table.mjs [windows=200] [models]   → markdown table on stdout, JSON lines on stderr.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, evaluate, loadBundle } from '../dist/index.js';
import { buildSpikeReport } from '../dist/report/collect.js';
import { openReportSource } from '../dist/report/source.js';

const maxWindows = Number(process.argv[2] ?? 200);
const models = (process.argv[3] ?? 'fixtures/shakespeare-gpt2,fixtures/shakespeare-llama').split(',');
const configs = [
  ...[4, 5, 6, 7, 8, 12, 16].map((T) => ({ code: 'weighted', T })),
  ...[4, 8, 16].map((T) => ({ code: 'rate', T })),
];
const dir = mkdtempSync(join(tmpdir(), 'code-table-'));
const rows = [];
try {
  for (const model of models) {
    const text = join(model, 'heldout.txt');
    for (const { code, T } of configs) {
      const { bundlePath } = await convert(model, { code, timesteps: T, out: join(dir, `${code}-${T}.snn`), force: true });
      const bundle = await loadBundle(bundlePath);
      const ids = bundle.tokenizer.encode(readFileSync(text, 'utf8'));
      const window = bundle.spec.maxPositions;
      const r = await evaluate(bundle, ids.slice(0, maxWindows * window));
      await bundle.release();
      const source = await openReportSource(bundlePath);
      const report = await buildSpikeReport(source, { text, windows: 2, sweep: [T], lengths: [32] });
      await source.release();
      const t = report.totals;
      rows.push({ model, code, T, windows: r.windows, ratio: r.ratio, top1: r.top1_agreement, kl: r.kl, energy: t.perToken.energy.ratio, eventsPerToken: t.eventsPerToken, firingRate: t.firingRate, clipped: t.trainsClipped / Math.max(1, report.sites.reduce((a, s) => a + s.saturation.trains, 0)) });
      console.error(JSON.stringify(rows.at(-1)));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`| model | code | T | ppl ratio | top-1 | KL | energy proxy SNN/ANN | events/token | clipped trains |\n|---|---|---|---|---|---|---|---|---|`);
for (const r of rows) console.log(`| ${r.model.split('/').pop()} | ${r.code} | ${r.T} | ${r.ratio.toFixed(4)} | ${(100 * r.top1).toFixed(1)} % | ${r.kl.toFixed(4)} | ${r.energy.toFixed(3)} | ${Math.round(r.eventsPerToken)} | ${(100 * r.clipped).toFixed(3)} % |`);
