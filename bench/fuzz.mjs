#!/usr/bin/env node
// Coverage-guided mutation fuzzing (fast-check + V8 precise coverage) of the readers users feed files to.
// Usage: npm run build && node bench/fuzz.mjs [--seconds 60] [--target safetensors,bundle,tokenizer,onnx] [--seed 1]
// Each target runs in a worker (a watchdog ends it on a hang); a mutant that covers new code joins the pool
// it mutates. Anything but an SnnError with a one-line message is a finding: its input is kept under
// bench/out/fuzz/<target>/ and belongs in test/corpus/make.mjs once fixed. Not run in CI.
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DIST = join(ROOT, 'dist');
const GPT2 = join(ROOT, 'fixtures', 'shakespeare-gpt2');
const SMOL = join(ROOT, 'fixtures', 'smollm2-135m-instruct-config-tokenizer');
const FINDINGS = join(ROOT, 'bench', 'out', 'fuzz');
const HANG_MS = 20_000;
const SLOW_MS = 3_000;

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};

// ── mutation ───────────────────────────────────────────────────────────────────────────────────

/** Values that break parsers: limits, wrong types, huge or odd numbers. */
const INTERESTING = ['-1', '0', '1e309', '9007199254740993', '18446744073709551616', '1.5', 'null', '[]', '{}', '""', '"__proto__"', 'true', '[1e9,1e9,1e9]', '"../../x"', '"\\ud800"', '{"a":{"b":{"c":[]}}}'];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set'), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert'), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete'), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
  fc.record({ kind: fc.constant('token'), at: fc.nat(), value: fc.constantFrom(...INTERESTING) }),
  fc.record({ kind: fc.constant('duplicate'), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
);

/** Applies mutations to `buf`; positions are taken modulo the length (JSON-aware: `token` replaces a value). */
function mutate(buf, ops) {
  let b = Buffer.from(buf);
  for (const op of ops) {
    const at = b.length ? op.at % b.length : 0;
    if (op.kind === 'flip' && b.length) b[at] ^= 1 << op.bit;
    else if (op.kind === 'set' && b.length) b[at] = op.byte;
    else if (op.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(op.bytes), b.subarray(at)]);
    else if (op.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + op.n)]);
    else if (op.kind === 'truncate') b = b.subarray(0, at);
    else if (op.kind === 'duplicate') b = Buffer.concat([b.subarray(0, at + op.n), b.subarray(at)]);
    else if (op.kind === 'token') {
      // Replace the JSON scalar (number, string, literal) that starts at or after `at`.
      const text = b.toString('latin1');
      const re = /-?\d[\d.eE+-]*|"(?:[^"\\]|\\.)*"|true|false|null/g;
      re.lastIndex = at;
      const m = re.exec(text);
      if (m) b = Buffer.concat([b.subarray(0, m.index), Buffer.from(op.value), b.subarray(m.index + m[0].length)]);
    }
  }
  return b;
}

function replace(path, content) {
  rmSync(path, { force: true });
  writeFileSync(path, content);
}

// ── targets ────────────────────────────────────────────────────────────────────────────────────

/**
 * A target: `files` are where its seed bytes come from (the real files), `run(bytes)` feeds one
 * mutant to the code under test, `scripts` names the dist files whose coverage guides it.
 */
async function makeTarget(name, work) {
  const lib = (p) => import(pathToFileURL(join(DIST, p)).href);
  if (name === 'safetensors') {
    const { readSafetensorsHeader, readTensorFloat32, countNonFinite } = await lib('weights/safetensors.js');
    const real = readFileSync(join(GPT2, 'model.safetensors'));
    const headerEnd = 8 + Number(real.readBigUInt64LE(0));
    const file = join(work, 'model.safetensors');
    return {
      seeds: [real.subarray(0, headerEnd + 4096)],
      scripts: ['weights/safetensors.js'],
      run(bytes) {
        // The real file's length beyond the mutated prefix, as a hole: the reader sees the true size without us writing 3 MB.
        writeFileSync(file, bytes);
        truncateSync(file, bytes.length + (real.length - headerEnd - 4096));
        const header = readSafetensorsHeader(file);
        const small = [...header.tensors.values()].filter((t) => t.length <= 1 << 16).slice(0, 2);
        for (const t of small) { countNonFinite(t); if (['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) readTensorFloat32(t); }
      },
    };
  }
  if (name === 'bundle') {
    const { readBundle } = await lib('bundle/read.js');
    const { loadBundle } = await lib('runtime/model.js');
    const base = join(work, 'base.snn');
    const made = spawnSync(process.execPath, [join(ROOT, 'bin', 'snnconvert.js'), GPT2, '-t', '2', '--calib-samples', '2', '--calib-length', '16', '--no-report', '-q', '-o', base], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`fuzz: base bundle: ${made.stderr}`);
    const names = ['meta.json', 'graph.json', 'config.json', 'weights.safetensors', 'tokenizer_config.json', 'model.onnx'];
    const seeds = names.map((n) => Buffer.concat([Buffer.from(`${n}\n`), readFileSync(join(base, n)).subarray(0, n === 'weights.safetensors' ? 16384 : undefined)]));
    let k = 0;
    return {
      seeds,
      scripts: ['bundle/read.js', 'bundle/graph-json.js', 'weights/safetensors.js'],
      async run(bytes) {
        // The first line names the file the rest replaces (a mutated name is a missing or extra file).
        const nl = bytes.indexOf(10);
        const target = nl > 0 ? bytes.subarray(0, nl).toString('utf8') : 'meta.json';
        const dir = join(work, `b${k++ % 4}.snn`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        for (const f of readdirSync(base)) linkSync(join(base, f), join(dir, f)); // hard links: never written through (replace() unlinks first)
        if (!/^[\w.-]+$/.test(target)) throw Object.assign(new Error('skip'), { skip: true });
        let content = bytes.subarray(nl + 1);
        if (target === 'weights.safetensors') content = Buffer.concat([content, readFileSync(join(base, target)).subarray(16384)]);
        replace(join(dir, target), content);
        if (target !== 'meta.json') {
          // Recompute the hash, so the mutant reaches the parsers behind the sha256 check.
          const meta = JSON.parse(readFileSync(join(base, 'meta.json'), 'utf8'));
          meta.files[target] = createHash('sha256').update(content).digest('hex');
          replace(join(dir, 'meta.json'), JSON.stringify(meta));
        }
        if (target === 'model.onnx' || target === 'tokenizer_config.json') await (await loadBundle(dir)).release();
        else readBundle(dir);
      },
    };
  }
  if (name === 'tokenizer') {
    const { loadTokenizer } = await lib('tokenizer/tokenizer.js');
    const template = JSON.parse(readFileSync(join(SMOL, 'tokenizer_config.json'), 'utf8')).chat_template;
    const files = { 'tokenizer.json': readFileSync(join(GPT2, 'tokenizer.json')), 'tokenizer_config.json': readFileSync(join(GPT2, 'tokenizer_config.json')), 'chat_template.jinja': Buffer.from(template) };
    const seeds = Object.entries(files).map(([n, b]) => Buffer.concat([Buffer.from(`${n}\n`), b]));
    let k = 0;
    return {
      seeds,
      scripts: ['tokenizer/tokenizer.js'],
      async run(bytes) {
        const nl = bytes.indexOf(10);
        const target = nl > 0 ? bytes.subarray(0, nl).toString('utf8') : '';
        if (!(target in files)) throw Object.assign(new Error('skip'), { skip: true });
        const dir = join(work, `t${k++}`);
        mkdirSync(dir);
        for (const [n, b] of Object.entries(files)) writeFileSync(join(dir, n), n === target ? bytes.subarray(nl + 1) : b);
        try {
          const tok = await loadTokenizer(dir);
          const ids = tok.encode('ROMEO: But soft! what light through yonder window breaks? 日本 🎭');
          tok.decode(ids);
          tok.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi.' }, { role: 'user', content: 'Again?' }], { addGenerationPrompt: true });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  }
  if (name === 'onnx') {
    // The ONNX importer plugs in here: a module exporting `importOnnx(path)` (or `readOnnxModel`) is fuzzed with real .onnx seeds.
    const mod = await lib('import/onnx/index.js').catch(() => null);
    const fn = mod?.importOnnx ?? mod?.readOnnxModel;
    if (typeof fn !== 'function') return null;
    const file = join(work, 'model.onnx');
    return {
      seeds: [readFileSync(join(GPT2, 'onnx', 'model.onnx'))],
      scripts: ['import/onnx/'],
      async run(bytes) { writeFileSync(file, bytes); await fn(file); },
    };
  }
  throw new Error(`unknown target ${name}`);
}

// ── coverage ───────────────────────────────────────────────────────────────────────────────────

/** V8 block coverage of the target's scripts: the set of executed ranges, and how many ranges exist. */
async function coverage(session, scripts) {
  const { result } = await session.post('Profiler.takePreciseCoverage');
  const hit = new Set();
  let total = 0;
  for (const s of result) {
    if (!scripts.some((p) => s.url.includes(`/dist/${p}`))) continue;
    for (const f of s.functions) for (const r of f.ranges) {
      total++;
      if (r.count > 0) hit.add(`${s.url}:${r.startOffset}:${r.endOffset}`);
    }
  }
  return { hit, total };
}

// ── worker: one target ─────────────────────────────────────────────────────────────────────────

async function fuzzTarget({ name, seconds, seed }) {
  const { SnnError } = await import(pathToFileURL(join(DIST, 'errors/index.js')).href);
  const work = mkdtempSync(join(tmpdir(), `snn-fuzz-${name}-`));
  const target = await makeTarget(name, work);
  if (!target) rmSync(work, { recursive: true, force: true });
  if (!target) return { name, skipped: 'no ONNX importer in this build yet (today .onnx input is refused with a typed error)' };
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  const pool = [...target.seeds];
  const covered = new Set();
  let total = 0;
  const stats = { name, executions: 0, typedErrors: 0, accepted: 0, poolGrowth: 0, findings: [], slow: 0 };
  const record = async (kind, bytes, detail) => {
    const dir = join(FINDINGS, name);
    mkdirSync(dir, { recursive: true });
    const id = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
    writeFileSync(join(dir, `${kind}-${id}.bin`), bytes);
    if (!stats.findings.some((f) => f.detail === detail)) stats.findings.push({ kind, id, detail });
  };
  // Seeds first, so the pool starts from their coverage.
  for (const s of target.seeds) { try { await target.run(s); } catch { /* a seed may be refused */ } }
  ({ total } = await coverage(session, target.scripts));
  for (const k of (await coverage(session, target.scripts)).hit) covered.add(k);
  const deadline = Date.now() + seconds * 1000;
  await fc.assert(fc.asyncProperty(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 6 }), async (pick, ops) => {
    const input = mutate(pool[pick % pool.length], ops);
    const started = Date.now();
    let outcome = 'accepted';
    try {
      await target.run(input);
      stats.accepted++;
    } catch (e) {
      if (e?.skip) return true;
      if (e instanceof SnnError) {
        stats.typedErrors++;
        if (/\n/.test(e.render())) await record('multiline', input, e.render().slice(0, 200));
        outcome = 'typed';
      } else {
        await record('crash', input, `${e?.name ?? typeof e}: ${String(e?.message ?? e).slice(0, 160)}`);
        outcome = 'crash';
      }
    }
    const ms = Date.now() - started;
    if (ms > SLOW_MS) { stats.slow++; await record('slow', input, `${ms} ms (${outcome})`); }
    stats.executions++;
    const { hit, total: t } = await coverage(session, target.scripts);
    total = Math.max(total, t);
    let fresh = false;
    for (const k of hit) if (!covered.has(k)) { covered.add(k); fresh = true; }
    if (fresh) { pool.push(input); stats.poolGrowth++; }
    if (stats.executions % 20 === 0) parentPort.postMessage({ beat: stats.executions });
    return true;
  }), { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: Math.max(0, deadline - Date.now()), seed, endOnFailure: true }).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
  return { ...stats, seconds, coveredRanges: covered.size, totalRanges: total, pool: pool.length };
}

if (!isMainThread) {
  fuzzTarget(workerData).then((r) => parentPort.postMessage({ done: r }), (e) => parentPort.postMessage({ done: { name: workerData.name, error: String(e?.stack ?? e) } }));
} else {
  const seconds = Number(arg('--seconds', '60'));
  const seed = Number(arg('--seed', '1'));
  const targets = arg('--target', 'safetensors,bundle,tokenizer,onnx').split(',');
  const results = [];
  for (const name of targets) {
    process.stderr.write(`fuzzing ${name} for ${seconds} s …\n`);
    results.push(await new Promise((resolvePromise) => {
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { name, seconds, seed }, resourceLimits: { maxOldGenerationSizeMb: 2048 } });
      let last = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - last > HANG_MS + seconds * 1000 * 0) { clearInterval(watchdog); void w.terminate(); resolvePromise({ name, hang: `no progress for ${HANG_MS} ms` }); }
      }, 1000);
      w.on('message', (m) => { last = Date.now(); if (m.done) { clearInterval(watchdog); void w.terminate(); resolvePromise(m.done); } });
      w.on('error', (e) => { clearInterval(watchdog); resolvePromise({ name, error: `worker died: ${e.message}` }); });
    }));
  }
  for (const r of results) {
    if (r.skipped) { process.stdout.write(`${r.name}: skipped (${r.skipped})\n`); continue; }
    if (r.hang || r.error) { process.stdout.write(`${r.name}: ${r.hang ?? r.error}\n`); continue; }
    const pct = r.totalRanges ? ((100 * r.coveredRanges) / r.totalRanges).toFixed(1) : '0';
    process.stdout.write(`${r.name}: ${r.executions} executions in ${r.seconds} s, ${r.typedErrors} typed errors, ${r.accepted} accepted, coverage ${r.coveredRanges}/${r.totalRanges} blocks (${pct}%), pool ${r.pool} (+${r.poolGrowth}), findings ${r.findings.length}, slow ${r.slow}\n`);
    for (const f of r.findings) process.stdout.write(`  ${f.kind} ${f.id}: ${f.detail}\n`);
  }
  writeFileSync(join(ROOT, 'bench', 'out', 'fuzz.json'), JSON.stringify(results, null, 2));
}
