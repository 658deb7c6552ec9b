// Chooses the weighted code's default T on the DEV split (the last 10 % of the calibration corpus, the
// training side): converts each shipped model at every T, evaluates SNN vs ANN perplexity on dev windows,
// and prints the table. heldout.txt is never read here. Usage: node bench/choose-defaults.mjs [T list] [models]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, loadBundle, evaluate } from '../dist/index.js';
import { CALIBRATION_SHARE, DEFAULT_CALIBRATION_TEXT } from '../dist/calibrate/data.js';
import { readFileSync } from 'node:fs';

const Ts = (process.argv[2] ?? '4,5,6,7,8,10,12').split(',').map(Number);
const models = (process.argv[3] ?? 'fixtures/shakespeare-gpt2,fixtures/shakespeare-llama').split(',');
const code = process.env.CODE ?? 'weighted';
const maxWindows = Number(process.env.DEV_WINDOWS ?? 64);
const dir = mkdtempSync(join(tmpdir(), 'choose-'));
const rows = [];
try {
  for (const model of models) {
    for (const T of Ts) {
      const { bundlePath } = await convert(model, { timesteps: T, code, out: join(dir, `m-${T}.snn`), force: true });
      const bundle = await loadBundle(bundlePath);
      const all = bundle.tokenizer.encode(readFileSync(DEFAULT_CALIBRATION_TEXT, 'utf8'));
      const dev = all.slice(Math.floor(all.length * CALIBRATION_SHARE));
      const window = bundle.spec.maxPositions;
      const ids = dev.slice(0, Math.min(dev.length, maxWindows * window));
      const r = await evaluate(bundle, ids);
      rows.push({ model, code, T, ratio: r.ratio, top1: r.top1_agreement, kl: r.kl, windows: r.windows });
      console.log(JSON.stringify(rows.at(-1)));
      await bundle.release();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('| model | code | T | dev ratio | top-1 | KL |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.model} | ${r.code} | ${r.T} | ${r.ratio.toFixed(4)} | ${(100 * r.top1).toFixed(1)} % | ${r.kl.toFixed(4)} |`);
