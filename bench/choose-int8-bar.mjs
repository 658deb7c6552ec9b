// Chooses the digit budget T on the DEV split (the last 10 % of the calibration corpus) against the W8A8
// INT8 ANN of the same model: the smallest T whose SNN is no less faithful than the INT8 ANN there (KL no
// higher, top-1 no lower). heldout.txt is never read here.
// Usage: node bench/choose-int8-bar.mjs [T list=6,7,8,9] [models]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, evaluate, loadBundle, openGraphSession } from '../dist/index.js';
import { CALIBRATION_SHARE, DEFAULT_CALIBRATION_TEXT } from '../dist/calibrate/data.js';

const Ts = (process.argv[2] ?? '6,7,8,9').split(',').map(Number);
const models = (process.argv[3] ?? 'fixtures/shakespeare-gpt2,fixtures/shakespeare-llama').split(',');
const maxWindows = Number(process.env.DEV_WINDOWS ?? 64);
const dir = mkdtempSync(join(tmpdir(), 'int8-bar-'));
const rows = [];
try {
  for (const model of models) {
    let int8 = null;
    for (const T of Ts) {
      const { bundlePath } = await convert(model, { timesteps: T, out: join(dir, `m-${T}.snn`), force: true });
      const bundle = await loadBundle(bundlePath);
      const all = bundle.tokenizer.encode(readFileSync(DEFAULT_CALIBRATION_TEXT, 'utf8'));
      const dev = all.slice(Math.floor(all.length * CALIBRATION_SHARE));
      const ids = dev.slice(0, Math.min(dev.length, maxWindows * bundle.spec.maxPositions));
      if (!int8) {
        // The INT8 sites use the same thresholds at every T (θ is per-channel max, independent of T).
        const session = await openGraphSession(bundle.contents.graph, 'snn', { quantized: 'w8a8' });
        int8 = await evaluate(bundle, ids, { snnSession: session });
        await session.release();
        rows.push({ model, what: 'INT8 ANN', ratio: int8.ratio, top1: int8.top1_agreement, kl: int8.kl });
        console.error(JSON.stringify(rows.at(-1)));
      }
      const r = await evaluate(bundle, ids);
      const noWorse = r.kl <= int8.kl && r.top1_agreement >= int8.top1_agreement;
      rows.push({ model, what: `SNN T=${T}`, ratio: r.ratio, top1: r.top1_agreement, kl: r.kl, noWorse });
      console.error(JSON.stringify(rows.at(-1)));
      await bundle.release();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('| model | dev split | ratio | top-1 | KL | no less faithful than INT8 |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.model.split('/').pop()} | ${r.what} | ${r.ratio.toFixed(4)} | ${(100 * r.top1).toFixed(1)} % | ${r.kl.toFixed(4)} | ${r.noWorse === undefined ? '' : r.noWorse ? 'yes' : 'no'} |`);
