// Decode and prefill tokens/s of a bundle's ANN and its SNN, in one process, through the same TemporalSpikeProcessor path.
//
//   npm run build && node bench/decode-throughput.mjs BUNDLE.snn [--prompt-tokens 64] [--decode-tokens 64] [--reps 3] [--device cpu]
//
// Prefill: one forward of --prompt-tokens tokens on a fresh conversation (tokens/s = tokens / time).
// Decode: greedy generation of --decode-tokens tokens after a 16-token prompt; the time runs from the
// first sampled token to the last, so it counts --decode-tokens − 1 cached single-token steps.
// Each figure is the median of --reps runs after one warm-up run. Prints JSON on stdout.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { loadBundle } from '../dist/runtime/model.js';
import { TemporalSpikeProcessor } from '../dist/runtime/tsp.js';

function parseArgs(argv) {
  const o = { bundle: null, promptTokens: 64, decodeTokens: 64, reps: 3, device: 'cpu' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => { const v = Number(argv[++i]); if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a whole number ≥ 1`); return v; };
    if (a === '--prompt-tokens') o.promptTokens = num();
    else if (a === '--decode-tokens') o.decodeTokens = num();
    else if (a === '--reps') o.reps = num();
    else if (a === '--device') o.device = argv[++i];
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else o.bundle = a;
  }
  if (!o.bundle) throw new Error('usage: node bench/decode-throughput.mjs BUNDLE.snn [--prompt-tokens N] [--decode-tokens N] [--reps N] [--device cpu|cuda]');
  return o;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Token ids from the shipped calibration text, so the prompt is real text in the model's tokenizer. */
function promptIds(tokenizer, n) {
  const text = readFileSync(new URL('../fixtures/calibration/tinyshakespeare-train.txt', import.meta.url), 'utf8').slice(0, 20 * n);
  const ids = tokenizer.encode(text).slice(0, n);
  if (ids.length < n) throw new Error(`the calibration text gives only ${ids.length} tokens`);
  return ids;
}

async function prefill(tsp, ids) {
  const t = performance.now();
  await tsp.forward([ids], { batchIds: ['prefill'] });
  const seconds = (performance.now() - t) / 1000;
  tsp.resetCache('prefill');
  return ids.length / seconds;
}

async function decode(tsp, prompt, tokens) {
  let first = 0;
  let count = 0;
  for await (const _ of tsp.generate(prompt, { maxNewTokens: tokens, eos: null })) {
    if (count === 0) first = performance.now();
    count += 1;
  }
  return (count - 1) / ((performance.now() - first) / 1000);
}

async function measure(bundle, ann, o) {
  const tsp = new TemporalSpikeProcessor(bundle, { ann });
  const max = tsp.maxContextLength;
  const promptTokens = Math.min(o.promptTokens, max);
  const decodeTokens = Math.min(o.decodeTokens, max - 16);
  const long = promptIds(bundle.tokenizer, promptTokens);
  const short = long.slice(0, 16);
  await prefill(tsp, long); // warm-up
  await decode(tsp, short, 4);
  const p = [], d = [];
  for (let r = 0; r < o.reps; r++) {
    p.push(await prefill(tsp, long));
    d.push(await decode(tsp, short, decodeTokens));
  }
  return { prefill_tok_s: median(p), decode_tok_s: median(d), prompt_tokens: promptTokens, decode_tokens: decodeTokens };
}

const o = parseArgs(process.argv.slice(2));
const bundle = await loadBundle(o.bundle, { device: o.device });
const ann = await measure(bundle, true, o);
const snn = await measure(bundle, false, o);
await bundle.release();
const round = (x) => Math.round(x * 100) / 100;
const ratio = (snn, ann) => Math.round((snn / ann) * 1000) / 1000;
console.log(JSON.stringify({
  bundle: o.bundle,
  timesteps: bundle.timesteps,
  recipe: bundle.recipe,
  device: o.device,
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  ann: { prefill_tok_s: round(ann.prefill_tok_s), decode_tok_s: round(ann.decode_tok_s) },
  snn: { prefill_tok_s: round(snn.prefill_tok_s), decode_tok_s: round(snn.decode_tok_s) },
  ratio: { prefill: ratio(snn.prefill_tok_s, ann.prefill_tok_s), decode: ratio(snn.decode_tok_s, ann.decode_tok_s) },
  prompt_tokens: ann.prompt_tokens,
  decode_tokens: ann.decode_tokens,
  reps: o.reps,
}, null, 2));
