// Chooses the weighted code's default T and headroom on DEV data only: for the shipped models the last 10 %
// of the calibration corpus (the training side); for a model folder with its own calib.txt (the unseen
// fixtures: training-side text, never heldout.txt), that text. Each model is converted as a user would
// (default calibration: the shipped corpus) at every (headroom, T) pair and evaluated on full-context
// dev windows: KL and top-1 first, then the ratio and the clipped share.
// Usage: node bench/choose-defaults.mjs [h:T,h:T,…] [models]   (DEV_WINDOWS=32, CODE=weighted, CALIB_SOURCE, CALIB_SAMPLER)
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, loadBundle, evaluate } from '../dist/index.js';
import { CALIBRATION_SHARE, DEFAULT_CALIBRATION_TEXT } from '../dist/calibrate/data.js';

const pairs = (process.argv[2] ?? '0:6,0:7,0:8,1:7,1:8,1:9,2:8,2:9').split(',').map((p) => p.split(':').map(Number));
const models = (process.argv[3] ?? 'fixtures/shakespeare-gpt2,fixtures/shakespeare-llama').split(',');
const code = process.env.CODE ?? 'weighted';
const maxWindows = Number(process.env.DEV_WINDOWS ?? 32);
const calibSource = process.env.CALIB_SOURCE;
const calibSampler = process.env.CALIB_SAMPLER;
const dir = mkdtempSync(join(tmpdir(), 'choose-'));
const rows = [];
try {
  for (const model of models) {
    const own = join(model, 'calib.txt');
    for (const [headroom, T] of pairs) {
      const started = Date.now();
      const { bundlePath } = await convert(model, { timesteps: T, headroom, code, out: join(dir, `m-${T}.snn`), force: true, ...(calibSource || calibSampler ? { calibration: { ...(calibSource ? { source: calibSource } : {}), ...(calibSampler ? { sampler: calibSampler } : {}) } } : {}) });
      const seconds = (Date.now() - started) / 1000;
      const bundle = await loadBundle(bundlePath);
      let dev;
      if (existsSync(own)) dev = bundle.tokenizer.encode(readFileSync(own, 'utf8'));
      else { const all = bundle.tokenizer.encode(readFileSync(DEFAULT_CALIBRATION_TEXT, 'utf8')); dev = all.slice(Math.floor(all.length * CALIBRATION_SHARE)); }
      const window = bundle.spec.maxPositions;
      const ids = dev.slice(0, Math.min(dev.length, maxWindows * window));
      const r = await evaluate(bundle, ids);
      rows.push({ model, code, headroom, T, ...(calibSampler ? { sampler: calibSampler } : {}), kl: r.kl, top1: r.top1_agreement, ratio: r.ratio, clipped: r.clipped?.share ?? null, windows: r.windows, dev: existsSync(own) ? 'calib.txt' : 'corpus dev split', convertSeconds: seconds });
      console.log(JSON.stringify(rows.at(-1)));
      await bundle.release();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('| model | dev text | headroom | T | KL | top-1 | ratio | clipped |\n|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.model} | ${r.dev} | ${r.headroom} | ${r.T} | ${r.kl.toFixed(4)} | ${(100 * r.top1).toFixed(1)} % | ${r.ratio.toFixed(4)} | ${r.clipped === null ? '—' : `${(100 * r.clipped).toFixed(4)} %`} |`);
