// A scripted chat of many short turns through Conversation (the `chat` path): RSS and cache size over the turns.
//
//   npm run build && node bench/long-conversation.mjs [MODEL] [--turns 10000] [--every 500] [--max-new-tokens 4] [--snn]
//
// MODEL: a .snn bundle or a HF folder (default: the embedded Shakespeare model, ANN). --snn runs a
// bundle's SNN instead of its ANN. Each turn sends a short user line and generates a few tokens; the
// window slides as the chat outgrows the context. Prints a JSON line per sample on stderr and a
// summary on stdout: RSS first/last/max after warm-up, and the largest cache seen.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODEL } from '../dist/convert.js';
import { Conversation } from '../dist/runtime/conversation.js';
import { loadBundle, loadHfAnn } from '../dist/runtime/model.js';
import { TemporalSpikeProcessor } from '../dist/runtime/tsp.js';

function parseArgs(argv) {
  const o = { model: DEFAULT_MODEL, turns: 10_000, every: 500, maxNewTokens: 4, snn: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => { const v = Number(argv[++i]); if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a whole number ≥ 1`); return v; };
    if (a === '--turns') o.turns = num();
    else if (a === '--every') o.every = num();
    else if (a === '--max-new-tokens') o.maxNewTokens = num();
    else if (a === '--snn') o.snn = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else o.model = a;
  }
  return o;
}

const o = parseArgs(process.argv.slice(2));
const isBundle = existsSync(join(o.model, 'meta.json'));
const model = isBundle ? await loadBundle(o.model) : await loadHfAnn(o.model);
const tsp = new TemporalSpikeProcessor(model, { ann: !o.snn, overflow: 'slide' });
const chat = new Conversation(tsp, { maxNewTokens: o.maxNewTokens, temperature: 0.8, topK: 40 });
const lines = ['Good morrow.', 'What news?', 'Speak on.', 'Who goes there?', 'Farewell.', 'How now?'];

const mb = (bytes) => Math.round(bytes / 2 ** 20 * 10) / 10;
const samples = [];
let maxCache = 0;
let maxMessages = 0;
const started = performance.now();
for (let turn = 1; turn <= o.turns; turn++) {
  for await (const _ of chat.say(`${lines[turn % lines.length]} (${turn})`)) { /* streamed and dropped */ }
  maxCache = Math.max(maxCache, tsp.getTokenIds(chat.batchId).length);
  maxMessages = Math.max(maxMessages, chat.messages.length);
  if (turn % o.every === 0 || turn === 1) {
    globalThis.gc?.();
    const m = process.memoryUsage();
    const sample = { turn, rss_mb: mb(m.rss), heap_mb: mb(m.heapUsed), external_mb: mb(m.external + m.arrayBuffers), cached_tokens: tsp.getTokenIds(chat.batchId).length, cached_floats: tsp.cachedFloats(), seconds: Math.round((performance.now() - started) / 100) / 10 };
    samples.push(sample);
    process.stderr.write(`${JSON.stringify(sample)}\n`);
  }
}
await model.release();
const steady = samples.filter((s) => s.turn >= Math.min(o.turns, 2 * o.every));
console.log(JSON.stringify({
  model: o.model,
  run: o.snn ? `SNN T=${model.timesteps}` : 'ANN',
  turns: o.turns,
  context: tsp.maxContextLength,
  max_cached_tokens: maxCache,
  max_messages_kept: maxMessages,
  rss_mb: { first: samples[0].rss_mb, after_warmup: steady[0]?.rss_mb, last: samples.at(-1).rss_mb, max_after_warmup: Math.max(...steady.map((s) => s.rss_mb)) },
  heap_mb: { after_warmup: steady[0]?.heap_mb, last: samples.at(-1).heap_mb },
  seconds: samples.at(-1).seconds,
}, null, 2));
