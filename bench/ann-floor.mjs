#!/usr/bin/env node
// The memory floor under a conversion: peak RSS of a process that only loads a HF folder's source ANN and
// runs it over one window (the report's window: the context, at most 1 024 tokens) in the report's chunks
// through the KV cache, with no conversion work. Calibration and the report both run this ANN over such
// windows, so a conversion's peak cannot fall below it. Prints RSS at each stage and the peak over the
// float32 weights, with onnxruntime's defaults (prepacked weights, arena: what calibration uses) and with
// --low-memory (no prepacking, no arena: the weights stay mapped from their file).
//
//   npm run build && node bench/ann-floor.mjs MODEL_DIR [--low-memory]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || dir.startsWith('--')) { console.error('usage: node bench/ann-floor.mjs MODEL_DIR [--low-memory]'); process.exit(2); }
const lowMemory = process.argv.includes('--low-memory');
const rssGB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1e6;
const stages = { start: rssGB() };
const { loadHfAnn } = await import('../dist/open/hf-ann.js');
const { runInChunks, REPORT_CHUNK } = await import('../dist/report/chunks.js');
const { readSafetensorsHeader } = await import('../dist/weights/safetensors.js');
stages.modules = rssGB();
const weightBytes = readdirSync(dir).filter((f) => f.endsWith('.safetensors'))
  .reduce((a, f) => a + [...readSafetensorsHeader(join(dir, f)).tensors.values()].reduce((n, t) => n + t.shape.reduce((x, d) => x * d, 1) * 4, 0), 0);
const model = await loadHfAnn(dir, { lowMemory });
stages.loaded = rssGB();
const session = await model.session(true);
stages.sessionOpen = rssGB();
const window = Math.min(1024, model.spec.maxPositions);
const ids = Array.from({ length: window }, (_, i) => (i * 7919) % model.spec.vocabSize);
const t = performance.now();
await runInChunks(session, ids, { chunk: REPORT_CHUNK }, () => {});
const seconds = (performance.now() - t) / 1000;
stages.afterWindow = rssGB();
await model.release();
const peak = process.resourceUsage().maxRSS * 1024;
const round = (x) => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({
  model: dir, lowMemory, window, chunk: REPORT_CHUNK, weightBytesF32: weightBytes, windowSeconds: round(seconds),
  rssGB: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v)])),
  peakGB: round(peak / 1e9), peakOverWeights: round(peak / weightBytes),
}, null, 1));
