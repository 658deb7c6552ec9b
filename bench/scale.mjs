// Scale benchmark: converts a model folder with the default options (report included) in a child process,
// then (optionally) generates and runs `snnconvert bench`; prints wall time, peak RSS over the fp32 weights,
// decode/prefill ratios and the load average before and after, as JSON and as a bench/RESULTS.md row.
//
//   npm run build && nice -n 10 node bench/scale.mjs MODEL_DIR [--label NAME] [--generate 32] [--bench 32,128]
//
// Make MODEL_DIR at bench time (never committed): fixtures/make-distilgpt2-shaped.mjs for distilgpt2,
// bench/make-llama-shaped.mjs for SmolLM2-135M (its real config) or a resized Llama-family stand-in.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../bin/snnconvert.js', import.meta.url));
const RSS_HOOK = 'data:text/javascript,import{writeFileSync}from"node:fs";process.on("exit",()=>{writeFileSync(process.env.SNNCONVERT_BENCH_RSS,String(process.resourceUsage().maxRSS))});';

const args = process.argv.slice(2);
const model = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const flag = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
if (!model) { console.error('usage: node bench/scale.mjs MODEL_DIR [--label NAME] [--generate N] [--bench LENGTHS]'); process.exit(2); }
const label = flag('--label') ?? model;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();
const weightBytes = readdirSync(model).filter((f) => f.endsWith('.safetensors')).reduce((a, f) => a + statSync(join(model, f)).size, 0);

function timed(cliArgs) {
  const dir = mkdtempSync(join(tmpdir(), 'snn-scale-'));
  const rssFile = join(dir, 'maxrss');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', RSS_HOOK, CLI, ...cliArgs], { env: { ...process.env, SNNCONVERT_BENCH_RSS: rssFile }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      let peak = null;
      try { peak = Number(readFileSync(rssFile, 'utf8')) * 1024; } catch { /* killed before exit */ }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, seconds, peakRssBytes: peak, stdout });
    });
  });
}

const out = join(mkdtempSync(join(tmpdir(), 'snn-scale-out-')), 'model.snn');
const result = { label, model, weightBytesF32: weightBytes, loadBefore: loadavg() };
const conv = await timed(['convert', model, '-o', out, '--json']);
Object.assign(result, { convert: { exit: conv.code, seconds: conv.seconds, peakRssBytes: conv.peakRssBytes, peakOverWeights: conv.peakRssBytes / weightBytes }, loadAfterConvert: loadavg() });
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
