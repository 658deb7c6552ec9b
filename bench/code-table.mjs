// Fidelity and energy against T for the weighted and the rate code, on both shipped models, measured on
// their held-out text (no setting was chosen on it: defaults come from the dev split, bench/choose-defaults.mjs).
// Usage: node bench/code-table.mjs [windows=200] [models] [configs]   → markdown table on stdout, JSON lines on stderr.
// configs: comma-separated `default` (convert with no options at all), `T` (weighted, default headroom),
// `rT` (rate); e.g. default,6,10,12,16,20. KL and top-1 lead every row; the ratio follows.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, evaluate, loadBundle } from '../dist/index.js';
import { buildSpikeReport } from '../dist/report/collect.js';
import { openReportSource } from '../dist/report/source.js';

const maxWindows = Number(process.argv[2] ?? 200);
const models = (process.argv[3] ?? 'fixtures/shakespeare-gpt2,fixtures/shakespeare-llama').split(',');
const configs = (process.argv[4] ?? 'default,5,6,7,8,12,16,r4,r8,r16').split(',').map((c) => (c === 'default' ? { code: 'weighted', T: null } : c.startsWith('r') ? { code: 'rate', T: Number(c.slice(1)) } : { code: 'weighted', T: Number(c) }));
const dir = mkdtempSync(join(tmpdir(), 'code-table-'));
const rows = [];
try {
  for (const model of models) {
    const text = join(model, 'heldout.txt');
    for (const { code, T } of configs) {
      const started = Date.now();
      const summary = await convert(model, T === null ? { out: join(dir, 'default.snn'), force: true } : { code, timesteps: T, out: join(dir, `${code}-${T}.snn`), force: true });
      const { bundlePath } = summary;
      const convertSeconds = (Date.now() - started) / 1000;
      const bundle = await loadBundle(bundlePath);
      const ids = bundle.tokenizer.encode(readFileSync(text, 'utf8'));
      const window = bundle.spec.maxPositions;
      const r = await evaluate(bundle, ids.slice(0, maxWindows * window));
      await bundle.release();
      const source = await openReportSource(bundlePath);
      const report = await buildSpikeReport(source, { text, windows: 2, sweep: [summary.timesteps], lengths: [32] });
      await source.release();
      const t = report.totals;
      rows.push({ model, code, T: summary.timesteps, headroom: summary.headroom, defaults: T === null, windows: r.windows, kl: r.kl, top1: r.top1_agreement, ratio: r.ratio, energy: t.perToken.energy.ratio, eventsPerToken: t.eventsPerToken, firingRate: t.firingRate, clipped: r.clipped?.share ?? null, clippedWarning: r.clipped?.warning ?? null, calibration: { seconds: summary.calibration.seconds, windowMiB: summary.calibration.windowBytes / 2 ** 20, tokens: summary.calibration.tokens, positions: `${summary.calibration.length}/${summary.calibration.context}` }, convertSeconds });
      console.error(JSON.stringify(rows.at(-1)));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`| model | code | T (headroom) | KL (nats) | top-1 agreement | ppl ratio SNN/ANN | energy proxy SNN/ANN | events/token | clipped on the text |\n|---|---|---|---|---|---|---|---|---|`);
for (const r of rows) console.log(`| ${r.model.split('/').pop()} | ${r.code} | ${r.defaults ? '**' : ''}${r.T} (${r.headroom})${r.defaults ? '** default' : ''} | ${r.kl.toFixed(4)} | ${(100 * r.top1).toFixed(1)} % | ${r.ratio.toFixed(4)} | ${r.energy.toFixed(3)} | ${Math.round(r.eventsPerToken)} | ${r.clipped === null ? '—' : `${(100 * r.clipped).toFixed(4)} %`} |`);
