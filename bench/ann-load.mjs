#!/usr/bin/env node
// The ANN reference path on a HF folder: import + session build time, peak RSS against the weights'
// size, and prefill / decode tokens/s (issue 2's figures). Usage: node bench/ann-load.mjs MODEL_DIR [SEQ] [--low-memory]
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadHfAnn } from '../dist/runtime/model.js';
import { windowInput } from '../dist/runtime/windows.js';

const [dir, seqArg = '128'] = process.argv.slice(2);
if (!dir) { console.error('usage: node bench/ann-load.mjs MODEL_DIR [SEQ]'); process.exit(2); }
const weightsBytes = statSync(join(dir, 'model.safetensors')).size;
let t = performance.now();
const lowMemory = process.argv.includes('--low-memory');
const model = await loadHfAnn(dir, { lowMemory });
const session = await model.session(true);
// Decode runs 32 steps after the prefill: keep it inside the context.
const seq = Math.min(Number(seqArg), model.spec.maxPositions - 32);
const loadSeconds = (performance.now() - t) / 1000;
const ids = Array.from({ length: seq + 64 }, (_, i) => (i * 7919) % model.spec.vocabSize);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const prefillTimes = [];
for (let r = 0; r < 4; r++) { t = performance.now(); await session.run(windowInput(ids, [0], seq)); prefillTimes.push(performance.now() - t); }
const first = await session.run(windowInput(ids, [0], seq));
let cache = first.present;
const decodeTimes = [];
for (let s = 0; s < 32; s++) {
  const past = seq + s;
  t = performance.now();
  const out = await session.run({ batch: 1, seq: 1, ids: new BigInt64Array([BigInt(ids[past % ids.length])]), mask: new BigInt64Array(past + 1).fill(1n), positions: new BigInt64Array([BigInt(past)]), past, cache });
  decodeTimes.push(performance.now() - t);
  cache = out.present;
}
const peak = process.resourceUsage().maxRSS * 1024;
console.log(JSON.stringify({
  model: dir, seq, lowMemory, weightsMiB: +(weightsBytes / 2 ** 20).toFixed(1), loadAndSessionSeconds: +loadSeconds.toFixed(2),
  peakRssMiB: +(peak / 2 ** 20).toFixed(1), peakOverWeights: +(peak / weightsBytes).toFixed(2),
  prefillTokensPerSecond: +(seq / (median(prefillTimes.slice(1)) / 1000)).toFixed(1),
  decodeTokensPerSecond: +(1000 / median(decodeTimes.slice(2))).toFixed(1),
}, null, 2));
await model.release();
