// FP32 ANN, W8A8 INT8 ANN and SNN side by side: fidelity on held-out text and the energy proxy (every
// operation counted, priced by width), per model and T. No setting is chosen here: T comes from the
// dev split (bench/choose-defaults.mjs); the held-out text is only reported on.
// Usage: node bench/three-way.mjs [windows=100] [models] [Ts=7,8] [window] [energyWindows=2]
//   → markdown table on stdout, JSON lines on stderr.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, evaluate, loadBundle, openGraphSession } from '../dist/index.js';
import { buildSpikeReport } from '../dist/report/collect.js';
import { openReportSource } from '../dist/report/source.js';

const maxWindows = Number(process.argv[2] ?? 100);
const models = (process.argv[3] ?? 'fixtures/shakespeare-gpt2,fixtures/shakespeare-llama').split(',');
const Ts = (process.argv[4] ?? '7,8').split(',').map(Number);
const windowArg = process.argv[5] ? Number(process.argv[5]) : undefined;
const energyWindows = Number(process.argv[6] ?? 2);
const dir = mkdtempSync(join(tmpdir(), 'three-way-'));
const rows = [];
const fidelity = (r) => ({ ratio: r.ratio, top1: r.top1_agreement, kl: r.kl });
try {
  for (const model of models) {
    const own = join(model, 'heldout.txt');
    const text = existsSync(own) ? own : 'fixtures/shakespeare-gpt2/heldout.txt';
    for (const T of Ts) {
      const { bundlePath } = await convert(model, { timesteps: T, out: join(dir, `w-${T}.snn`), force: true });
      const bundle = await loadBundle(bundlePath);
      const ids = bundle.tokenizer.encode(readFileSync(text, 'utf8'));
      const window = windowArg ?? bundle.spec.maxPositions;
      const slice = ids.slice(0, maxWindows * window);
      const snn = await evaluate(bundle, slice, { window });
      const int8Session = await openGraphSession(bundle.contents.graph, 'snn', { quantized: 'w8a8' });
      const int8 = await evaluate(bundle, slice, { window, snnSession: int8Session });
      await int8Session.release();
      await bundle.release();
      const source = await openReportSource(bundlePath);
      const report = await buildSpikeReport(source, { text, windows: energyWindows, window, sweep: [T], lengths: [16] });
      await source.release();
      const e = report.totals.perToken.energy;
      rows.push({ model: model.split('/').pop(), T, window, windows: snn.windows, annPpl: snn.ann.ppl, snn: fidelity(snn), int8: fidelity(int8), annPj: e.annPicojoules, int8Pj: e.int8Picojoules, snnPj: e.snnPicojoules, vsAnn: e.ratio, vsInt8: e.ratioInt8, eventsPerToken: report.totals.eventsPerToken });
      console.error(JSON.stringify(rows.at(-1)));
      rmSync(bundlePath, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const f = (x) => `${x.ratio.toFixed(4)} / ${(100 * x.top1).toFixed(1)} % / ${x.kl.toFixed(4)}`;
console.log('| model | T | windows × tokens | INT8 ANN ratio / top-1 / KL | SNN ratio / top-1 / KL | pJ/token FP32 · INT8 · SNN | SNN/FP32 | SNN/INT8 |\n|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.model} | ${r.T} | ${r.windows} × ${r.window} | ${f(r.int8)} | ${f(r.snn)} | ${(r.annPj / 1e3).toFixed(0)} k · ${(r.int8Pj / 1e3).toFixed(0)} k · ${(r.snnPj / 1e3).toFixed(0)} k | ${r.vsAnn.toFixed(3)} | ${r.vsInt8.toFixed(3)} |`);
