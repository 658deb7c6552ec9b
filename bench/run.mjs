#!/usr/bin/env node
// Runs `snnconvert bench` on the Shakespeare GPT-2 fixture and the distilgpt2-shaped model and writes bench/RESULTS.md.
// Usage: npm run build && node bench/run.mjs [--only shakespeare|distilgpt2] [--lengths 32,128,512]
// Bundles and raw JSON go to bench/out/ (git-ignored); the distilgpt2-shaped model is generated into /tmp if absent.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(ROOT, 'bin', 'snnconvert.js');
const OUT = join(ROOT, 'bench', 'out');
const DISTIL_DIR = process.env.DISTILGPT2_SHAPED ?? '/tmp/distilgpt2-shaped';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const only = arg('--only', null);
const lengths = arg('--lengths', '32,128,512');

const MODELS = [
  { key: 'shakespeare', label: 'shakespeare-gpt2 (fixture: 4 layers, width 128, context 128)', source: join(ROOT, 'fixtures', 'shakespeare-gpt2') },
  { key: 'distilgpt2', label: 'distilgpt2-shaped (real distilgpt2 config, seeded random weights: 6 layers, width 768, vocab 50257)', source: DISTIL_DIR },
].filter((m) => !only || m.key === only);

const node = (args, opts = {}) => execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'], ...opts });
const log = (m) => process.stderr.write(`[bench/run] ${m}\n`);

mkdirSync(OUT, { recursive: true });
if (MODELS.some((m) => m.key === 'distilgpt2') && !existsSync(join(DISTIL_DIR, 'model.safetensors'))) {
  log(`generating the distilgpt2-shaped model into ${DISTIL_DIR}`);
  node([join(ROOT, 'fixtures', 'make-distilgpt2-shaped.mjs'), DISTIL_DIR]);
}

const results = [];
for (const m of MODELS) {
  const bundle = join(OUT, `${m.key}.snn`);
  log(`converting ${m.source} → ${bundle}`);
  node([CLI, 'convert', m.source, '-o', bundle, '--force', '--quiet']);
  log(`bench ${bundle} (lengths ${lengths})`);
  const bench = JSON.parse(node([CLI, 'bench', bundle, '--json', '--lengths', lengths]));
  const report = JSON.parse(readFileSync(join(bundle, 'spike.report', 'report.json'), 'utf8'));
  writeFileSync(join(OUT, `${m.key}.bench.json`), JSON.stringify(bench, null, 2));
  results.push({ model: m, bench, report });
}

const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const f1 = (x) => x.toFixed(1);
const ratio = (x) => x.toFixed(3);
const sci = (x) => x.toExponential(2);

function modelSection({ model, bench: b, report: r }) {
  const c = b.conversion;
  const conv = 'skipped' in c ? `skipped (${c.skipped})`
    : `${f1(c.seconds)} s wall (convert() ${f1(c.convertSeconds)} s, of which the SpikeScope report ${c.reportSeconds === null ? '-' : f1(c.reportSeconds)} s), peak RSS ${mib(c.peakRssBytes)}`;
  const capped = b.lengths.filter((l) => l.capped);
  const rows = b.lengths.map((l) => `| ${l.seq}${l.capped ? '*' : ''} | ${f1(l.prefill.ann.tokensPerSecond)} | ${f1(l.prefill.snn.tokensPerSecond)} | ${ratio(l.prefill.ratio)} | ${f1(l.decode.ann.tokensPerSecond)} | ${f1(l.decode.snn.tokensPerSecond)} | ${ratio(l.decode.ratio)} | ${l.decode.steps} | ${mib(l.prefill.ann.rssPeakBytes)} | ${mib(l.prefill.snn.rssPeakBytes)} |`);
  const t = r.totals;
  const fid = r.fidelity.rows.map((x) => `T=${x.timesteps}: ${x.ratio.toFixed(3)}`).join(', ');
  return [
    `### ${model.label}`,
    '',
    `Bundle: recipe ${b.model.recipe}, code ${r.model.code}, T=${b.model.timesteps}, context ${b.model.contextLength}. Conversion: ${conv}.`,
    '',
    '| seq | prefill ANN tok/s | prefill SNN tok/s | SNN/ANN | decode ANN tok/s | decode SNN tok/s | SNN/ANN | decode steps | process peak RSS, ANN prefill | process peak RSS, SNN prefill |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    ...(capped.length ? ['', `\\* capped at the model context (${b.model.contextLength}); requested ${capped.flatMap((l) => l.requested.filter((q) => q > l.seq)).join(', ')}.`] : []),
    '',
    `SpikeScope (the bundle's spike.report/report.json, written at conversion on ${t.tokens} tokens of ${r.input.text.replace(ROOT + '/', '')}): `
      + `firing rate ${(100 * t.firingRate).toFixed(1)}%, sparsity ${(100 * t.sparsity).toFixed(1)}%, non-binary events ${(100 * t.nonBinaryShare).toFixed(1)}%; `
      + `per token ${sci(t.perToken.snn.sops)} SOPs and ${sci(t.perToken.snn.macs)} float MACs vs ${sci(t.perToken.ann.macs)} ANN MACs; clipped trains ${t.trainsClipped}; `
      + `energy proxy SNN/ANN ${ratio(t.perToken.energy.ratio)} (a proxy, docs/design.md §6; ${r.energyModel.window}). SNN/ANN perplexity ratio on those tokens: ${fid}.`,
    '',
  ].join('\n');
}

const first = results[0]?.bench.machine;
const md = [
  '# snnconvert bench results',
  '',
  `Written by \`node bench/run.mjs\` on ${new Date().toISOString().slice(0, 10)}. Every figure below comes from \`snnconvert bench --json\` (raw JSON in bench/out/, not committed) and from the bundles' SpikeScope reports.`,
  '',
  `Machine: ${cpus()[0]?.model ?? 'unknown'}, nproc ${os.availableParallelism()}, ${mib(totalmem())} RAM, ${process.platform}-${process.arch}, node ${process.version}, onnxruntime-node ${first?.onnxruntime ?? '?'} (CPU execution provider).`,
  `Load average (1, 5, 15 min) at the start of each bench: ${results.map((x) => `${x.model.key} ${x.bench.machine.loadAverage.start.map((v) => v.toFixed(2)).join('/')}`).join('; ')}. A load above nproc means other processes shared the CPUs and the timings are lower than on an idle machine.`,
  '',
  ...results.map(modelSection),
  '## Method',
  '',
  results[0]?.bench.method ?? '',
  '',
  'tok/s: prefill = seq / seconds of one uncached forward; decode = steps / seconds of the single-token calls. SNN/ANN = SNN tok/s ÷ ANN tok/s (below 1: the SNN is slower; it runs T timesteps per token).',
  '',
].join('\n');
writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), md);
log('wrote bench/RESULTS.md');
