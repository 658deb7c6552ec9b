// Scale benchmark: converts a model folder with the default options (report included) in a child process,
// then (optionally) generates and runs `snnconvert bench`; prints wall time, peak RSS over the fp32 weights,
// decode/prefill ratios and the load average before and after, as JSON and as a bench/RESULTS.md row.
//
//   npm run build && nice -n 10 node bench/scale.mjs MODEL_DIR [--label NAME] [--generate 32] [--bench 32,128] [--trace]
//
// --trace samples the conversion's RSS every 0.5 s and prints, per progress phase, its time span and peak RSS.
// The conversion's own memory estimate (its "memory: about … GiB at the peak" line) is recorded beside the
// measured peak: peakOverEstimate above 1 means the check before loading underestimated.
// weightBytesF32 counts float32 bytes (a half-precision checkpoint's file holds half of them).
//
// Make MODEL_DIR at bench time (never committed): fixtures/make-distilgpt2-shaped.mjs for distilgpt2,
// bench/make-llama-shaped.mjs for SmolLM2-135M (its real config) or a resized Llama-family stand-in.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const { readSafetensorsHeader } = await import('../dist/weights/safetensors.js');
const CLI = fileURLToPath(new URL('../bin/snnconvert.js', import.meta.url));
const RSS_HOOK = 'data:text/javascript,import{writeFileSync}from"node:fs";process.on("exit",()=>{writeFileSync(process.env.SNNCONVERT_BENCH_RSS,String(process.resourceUsage().maxRSS))});';

const args = process.argv.slice(2);
const VALUED = ['--label', '--generate', '--bench'];
const model = args.find((a, i) => !a.startsWith('--') && !VALUED.includes(args[i - 1]));
const flag = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
if (!model) { console.error('usage: node bench/scale.mjs MODEL_DIR [--label NAME] [--generate N] [--bench LENGTHS] [--trace]'); process.exit(2); }
const label = flag('--label') ?? model;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();
/** Float32 bytes of a safetensors file's tensors, from its header (4 bytes an element, whatever the file's dtype). */
const float32Bytes = (path) => [...readSafetensorsHeader(path).tensors.values()].reduce((a, t) => a + t.shape.reduce((n, d) => n * d, 1) * 4, 0);
const weightBytes = readdirSync(model).filter((f) => f.endsWith('.safetensors')).reduce((a, f) => a + float32Bytes(join(model, f)), 0);

/** The child's RSS (VmRSS) now, in bytes, or null once it has exited. */
function childRss(pid) {
  try { return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024; } catch { return null; }
}

/**
 * Runs the CLI in a child process; its peak RSS comes from a hook at exit. With `trace`, the child's
 * RSS is also sampled every 0.5 s and each sample tagged with the last progress line on stderr, so the
 * phase that peaks can be named (printed as one line per phase: seconds and peak RSS).
 */
function timed(cliArgs, { trace = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'snn-scale-'));
  const rssFile = join(dir, 'maxrss');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', RSS_HOOK, CLI, ...cliArgs], { env: { ...process.env, SNNCONVERT_BENCH_RSS: rssFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    const samples = [];
    let phase = 'start';
    let timer = null;
    let estimateBytes = null;
    child.stderr.on('data', (d) => {
      process.stderr.write(d);
      const estimate = /memory: about ([\d.]+) GiB at the peak/.exec(String(d));
      if (estimate) estimateBytes = Number(estimate[1]) * 2 ** 30;
      const lines = String(d).split('\n').map((l) => l.trim()).filter(Boolean);
      if (lines.length) phase = lines.at(-1).replace(/ \d+\/\d+ \d+% ETA \d+s$/, '').slice(0, 80);
    });
    if (trace) timer = setInterval(() => { const rss = childRss(child.pid); if (rss) samples.push({ t: (performance.now() - t0) / 1000, rss, phase }); }, 500);
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      let peak = null;
      try { peak = Number(readFileSync(rssFile, 'utf8')) * 1024; } catch { /* killed before exit */ }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, seconds, peakRssBytes: peak, estimateBytes, stdout, ...(trace ? { trace: phases(samples) } : {}) });
    });
  });
}

/** Consecutive samples with the same phase, as [phase, from s, to s, peak GB]. */
function phases(samples) {
  const rows = [];
  for (const s of samples) {
    const last = rows.at(-1);
    if (last && last.phase === s.phase) { last.to = s.t; last.peakGB = Math.max(last.peakGB, s.rss / 1e9); } else rows.push({ phase: s.phase, from: s.t, to: s.t, peakGB: s.rss / 1e9 });
  }
  return rows.map((r) => ({ ...r, from: Number(r.from.toFixed(1)), to: Number(r.to.toFixed(1)), peakGB: Number(r.peakGB.toFixed(3)) }));
}

const out = join(mkdtempSync(join(tmpdir(), 'snn-scale-out-')), 'model.snn');
const result = { label, model, weightBytesF32: weightBytes, loadBefore: loadavg() };
const trace = args.includes('--trace');
const conv = await timed(['convert', model, '-o', out, ...(trace ? [] : ['--json'])], { trace });
Object.assign(result, { convert: { exit: conv.code, seconds: conv.seconds, peakRssBytes: conv.peakRssBytes, peakOverWeights: conv.peakRssBytes / weightBytes, estimateBytes: conv.estimateBytes, peakOverEstimate: conv.peakRssBytes / conv.estimateBytes, ...(trace ? { trace: conv.trace } : {}) }, loadAfterConvert: loadavg() });
if (conv.code === 0) {
  const report = JSON.parse(readFileSync(join(out, 'spike.report', 'report.json'), 'utf8'));
  result.report = { seconds: report.seconds, phaseSeconds: report.phaseSeconds, fidelity: report.fidelity.rows, energyRatio: report.totals.perToken.energy.ratio, window: report.input.window };
  if (flag('--generate')) {
    const g = await timed(['generate', out, '--prompt', 'The', '--max-new-tokens', flag('--generate'), '--temperature', '0']);
    result.generate = { exit: g.code, seconds: g.seconds, peakRssBytes: g.peakRssBytes, text: g.stdout.slice(0, 200) };
  }
  if (flag('--bench')) {
    const b = await timed(['bench', out, '--json', '--no-conversion', '--lengths', flag('--bench'), '--reps', '1']);
    result.bench = b.code === 0 ? JSON.parse(b.stdout) : { exit: b.code };
  }
}
result.loadAfter = loadavg();
rmSync(join(out, '..'), { recursive: true, force: true });
console.log(JSON.stringify(result, null, 1));
const gb = (b) => (b / 1e9).toFixed(2);
console.log(`| ${label} | ${gb(weightBytes)} GB | ${conv.seconds.toFixed(0)} s | ${gb(conv.peakRssBytes ?? 0)} GB (${(conv.peakRssBytes / weightBytes).toFixed(2)}×) | ${result.report ? `${result.report.seconds.toFixed(0)} s` : '—'} | ${result.loadBefore.split(' ').slice(0, 3).join(' ')} → ${result.loadAfter.split(' ').slice(0, 3).join(' ')} |`);
