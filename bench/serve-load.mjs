// Load test of `snnconvert serve`: tokens/s at 1, 4 and 16 concurrent sessions, then N requests from many clients
// (requests/s, p50/p99 latency, 429s, every answer checked complete and unmixed, server RSS over the run).
//
//   npm run build && node bench/serve-load.mjs BUNDLE.snn [--requests 10000] [--clients 40] [--max-tokens 4]
//          [--max-batch 16] [--max-queue 16] [--max-sessions 32] [--sessions 64] [--throughput-tokens 32]
//          [--throughput-rounds 2] [--skip-throughput] [--skip-load] [--device cpu] [--replicas N]
//
// --replicas N runs N servers on 127.0.0.1 behind HAProxy (the config `serve --print-haproxy-config` prints,
// consistent hashing on the session key) and sends every request through it. Each phase records
// /proc/loadavg before and after it: the machine is shared, so figures are only comparable at like load.
//
// The server runs as its own process (the CLI, on 127.0.0.1, an ephemeral port); its RSS is read from
// /proc/PID/status. Greedy requests (temperature 0) make every answer checkable: each must equal what
// its prompt gives alone on the idle server, finish with a reason and carry one response id. A client
// refused with 429 waits min(Retry-After, 0.25 s) before its next request. Progress goes to stderr,
// the JSON summary to stdout.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haproxyConfig } from '../dist/serve/haproxy.js';

const ROOT = join(import.meta.dirname, '..');
const PROMPTS = ['ROMEO:', 'JULIET:', 'KING:', 'QUEEN:', 'HAMLET:', 'First Citizen:', 'MENENIUS:', 'LEAR:', 'GLOUCESTER:', 'Nurse:'];

function parseArgs(argv) {
  const o = { bundle: null, requests: 10_000, clients: 40, maxTokens: 4, maxBatch: 16, maxQueue: 16, maxSessions: 32, sessions: 64, throughputTokens: 32, throughputRounds: 2, skipThroughput: false, skipLoad: false, device: 'cpu', replicas: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => { const v = Number(argv[++i]); if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a whole number ≥ 1`); return v; };
    if (a === '--requests') o.requests = num();
    else if (a === '--clients') o.clients = num();
    else if (a === '--max-tokens') o.maxTokens = num();
    else if (a === '--max-batch') o.maxBatch = num();
    else if (a === '--max-queue') o.maxQueue = num();
    else if (a === '--max-sessions') o.maxSessions = num();
    else if (a === '--sessions') o.sessions = num();
    else if (a === '--throughput-tokens') o.throughputTokens = num();
    else if (a === '--throughput-rounds') o.throughputRounds = num();
    else if (a === '--skip-throughput') o.skipThroughput = true;
    else if (a === '--skip-load') o.skipLoad = true;
    else if (a === '--device') o.device = argv[++i];
    else if (a === '--replicas') o.replicas = num();
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else o.bundle = a;
  }
  if (!o.bundle) throw new Error('usage: node bench/serve-load.mjs BUNDLE.snn [options]');
  return o;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** A port on 127.0.0.1 with `count` free ports from it. */
async function freeBase(count) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ok = await Promise.all(Array.from({ length: count }, (_, i) => new Promise((resolve) => {
      const s = createServer().once('error', () => resolve(false)).listen(base + i, '127.0.0.1', () => s.close(() => resolve(true)));
    })));
    if (ok.every(Boolean)) return base;
  }
  throw new Error('no free port block on 127.0.0.1');
}

/** N replicas on base+1…base+N behind HAProxy on base; resolves with the frontend URL and every child. */
async function startBehindHaproxy(o) {
  const base = await freeBase(o.replicas + 1);
  const replicas = await Promise.all(Array.from({ length: o.replicas }, (_, i) => startServer(o, base + i + 1)));
  const cfg = join(mkdtempSync(join(tmpdir(), 'snn-bench-haproxy-')), 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig({ replicas: o.replicas, host: '127.0.0.1', port: base, bundle: o.bundle }));
  const bin = ['haproxy', '/usr/sbin/haproxy'].find((b) => spawnSync(b, ['-v']).status === 0);
  if (!bin) throw new Error('--replicas needs haproxy (apt-get install haproxy)');
  const proxy = spawn(bin, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${base}`;
  for (let ok = 0, i = 0; ok < 4; i++) {
    if (i > 200) throw new Error('haproxy did not come up');
    const res = await fetch(`${url}/health`).catch(() => null);
    ok = res?.status === 200 ? ok + 1 : 0;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, children: [...replicas.map((r) => r.child), proxy], replicas };
}

/** Starts the CLI server and resolves with its URL and pid once it listens. */
function startServer(o, port = 0) {
  const args = [join(ROOT, 'bin', 'snnconvert.js'), 'serve', o.bundle, '--port', String(port), '--device', o.device, '--max-batch', String(o.maxBatch), '--max-queue', String(o.maxQueue), '--max-sessions', String(o.maxSessions)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d.toString();
      const m = /on (http:\/\/[^ ]+) /.exec(err);
      if (m) resolve({ url: m[1], child });
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
}

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024 * 10) / 10 : null;
}

async function post(url, body, headers = {}) {
  const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, retryAfter: Number(res.headers.get('retry-after') ?? 0), text: await res.text() };
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

const percentile = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))] : null;

/** C clients, each its own session, each generating `rounds` completions of `tokens` tokens. */
async function throughput(url, clients, o) {
  const started = performance.now();
  const before = loadavg();
  let tokens = 0;
  const latencies = [];
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    let prompt = PROMPTS[c % PROMPTS.length];
    for (let r = 0; r < o.throughputRounds; r++) {
      const t0 = performance.now();
      const res = await post(url, { prompt, max_tokens: o.throughputTokens, temperature: 0.8, seed: c * 100 + r }, { 'X-Session-Id': `tp-${clients}-${c}` });
      latencies.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`throughput request failed: ${res.status} ${res.text}`);
      const j = JSON.parse(res.text);
      tokens += j.usage.completion_tokens;
      prompt += j.choices[0].text; // the next round continues the session: only the new tokens are fed
      if (prompt.length > 128 - 2 * o.throughputTokens) prompt = PROMPTS[c % PROMPTS.length];
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { sessions: clients, tokens, seconds: Math.round(seconds * 100) / 100, tokensPerSecond: Math.round(tokens / seconds * 10) / 10, latencyMs: { p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)) }, loadavg: { before, after: loadavg() } };
}

/** The load phase: every answer is checked against `expected` (greedy, the prompt alone). */
async function load(url, pid, o, expected) {
  const before = loadavg();
  const latencies = [];
  const rss = [{ requests: 0, rssMiB: rssMiB(pid) }];
  let next = 0, done = 0, refused = 0, bad = 0;
  const badExamples = [];
  const started = performance.now();
  const worker = async (w) => {
    while (next < o.requests) {
      const i = next++;
      // Even requests go to one of `sessions` named sessions (more than --max-sessions: eviction happens), each
      // session always with its own prompt, so a session found in the cache feeds only one token; odd ones are private.
      const session = i % 2 === 0 ? (w * 7 + i) % o.sessions : null;
      const prompt = PROMPTS[(session ?? i) % PROMPTS.length];
      const headers = session !== null ? { 'X-Session-Id': `load-${session}` } : {};
      const stream = i % 3 === 0;
      const t0 = performance.now();
      const res = await post(url, { prompt, max_tokens: o.maxTokens, temperature: 0, ...(stream ? { stream: true } : {}) }, headers);
      const ms = performance.now() - t0;
      if (res.status === 429) {
        refused++;
        await new Promise((r) => setTimeout(r, Math.min(res.retryAfter * 1000, 250)));
      } else {
        let text, finish, ok = res.status === 200;
        if (ok && stream) {
          const events = res.text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
          const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
          ok = events.at(-1) === '[DONE]' && new Set(chunks.map((c) => c.id)).size === 1;
          text = chunks.map((c) => c.choices[0]?.text ?? '').join('');
          finish = chunks.at(-1)?.choices[0]?.finish_reason;
        } else if (ok) {
          const j = JSON.parse(res.text);
          text = j.choices[0].text;
          finish = j.choices[0].finish_reason;
          ok = j.usage.completion_tokens === o.maxTokens;
        }
        ok = ok && finish === 'length' && text === expected.get(prompt);
        if (!ok) { bad++; if (badExamples.length < 5) badExamples.push({ status: res.status, prompt, body: res.text.slice(0, 300) }); }
        latencies.push(ms);
      }
      done++;
      if (done % 1000 === 0) {
        rss.push({ requests: done, rssMiB: rssMiB(pid) });
        process.stderr.write(`[load] ${done}/${o.requests} requests, ${refused} refused, RSS ${rss.at(-1).rssMiB} MiB\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, w) => worker(w)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: o.requests, clients: o.clients, maxTokens: o.maxTokens, seconds: Math.round(seconds * 10) / 10,
    requestsPerSecond: Math.round(o.requests / seconds * 10) / 10, answeredPerSecond: Math.round(latencies.length / seconds * 10) / 10,
    answered: latencies.length, refused429: refused, badAnswers: bad, badExamples,
    latencyMs: { p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)), max: Math.round(latencies.at(-1) ?? 0) },
    rss,
    loadavg: { before, after: loadavg() },
  };
}

const o = parseArgs(process.argv.slice(2));
const behind = o.replicas > 0 ? await startBehindHaproxy(o) : null;
const single = behind ? null : await startServer(o);
const url = behind ? behind.url : single.url;
const children = behind ? behind.children : [single.child];
const pids = behind ? behind.replicas.map((r) => r.child.pid) : [single.child.pid];
/** Summed RSS of the servers (HAProxy excluded). */
const rssAll = () => Math.round(pids.reduce((s, pid) => s + (rssMiB(pid) ?? 0), 0) * 10) / 10;
// One short request to each server first: a fresh process spends seconds warming onnxruntime up on its
// first call, which would otherwise land in the 1-session figure (and, behind HAProxy, hold /health long enough for a check to fail).
for (const direct of behind ? behind.replicas.map((r) => r.url) : [url]) await post(direct, { prompt: 'A', max_tokens: 2, temperature: 0 });
try {
  const summary = { bundle: o.bundle, device: o.device, replicas: o.replicas || 1, haproxy: Boolean(behind), server: { maxBatch: o.maxBatch, maxQueue: o.maxQueue, maxSessions: o.maxSessions }, rssStartMiB: rssAll() };
  if (!o.skipThroughput) {
    summary.throughput = [];
    for (const c of [1, 4, 16]) {
      const r = await throughput(url, c, o);
      process.stderr.write(`[throughput] ${c} sessions: ${r.tokensPerSecond} tok/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, load ${r.loadavg.before} → ${r.loadavg.after}\n`);
      summary.throughput.push(r);
    }
  }
  if (!o.skipLoad) {
    const expected = new Map();
    for (const p of PROMPTS) expected.set(p, JSON.parse((await post(url, { prompt: p, max_tokens: o.maxTokens, temperature: 0 })).text).choices[0].text);
    summary.load = await load(url, pids[0], o, expected);
  }
  // Model counters from the first server (through HAProxy, /metrics reaches one replica).
  const direct = behind ? behind.replicas[0].url : url;
  summary.spikesPerToken = await metric(direct, 'snn_spikes_per_token');
  summary.cacheHits = await metric(direct, 'snn_cache_hits_total');
  summary.sessionEvictions = await metric(direct, 'snn_session_evictions_total');
  summary.rssEndMiB = rssAll();
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} finally {
  for (const child of children) child.kill('SIGTERM');
}
