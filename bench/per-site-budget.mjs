// Per-site digit budget (docs/design.md §2), measured on the DEV split only (the last 10 % of the
// calibration corpus; heldout.txt is never read here). A site given d fewer digits codes its input with
// the unit θ/M_(T−h−d) instead of θ/M_(T−h): the same events as a T−d-digit code at that site (its top
// d digits then fire only beyond the calibrated range). Emulated by scaling the site's θ by
// M_(T−h)/M_(T−h−d) (d < 0: more digits). Steps: uniform budgets d = −1, 0, +1 at every site; the
// dev KL and SOPs of one digit less / more at each site alone; a greedy allocation from those marginal
// rates, then checked by a real run. Reports whether an allocation reaches the uniform default's dev KL
// with fewer SOPs (SOP = spikes × fan-out, the report's rule).
// Usage: node bench/per-site-budget.mjs [model=fixtures/shakespeare-gpt2]
//   DEV_WINDOWS (default 16), DEV_SKIP (dev windows skipped, default 0), SENSITIVITY (JSON cache of the
//   per-site rates: choose on one run's windows, then confirm with DEV_SKIP on windows it did not see),
//   CANDIDATES (allocations measured, default 4).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, loadBundle, openGraphSession } from '../dist/index.js';
import { CALIBRATION_SHARE, DEFAULT_CALIBRATION_TEXT } from '../dist/calibrate/data.js';
import { windowInput } from '../dist/runtime/windows.js';
import { countOps } from '../dist/report/op-costs.js';
import { weightData } from '../dist/weights/weight-data.js';
import { nafMax } from '../dist/ops/spike-code.js';

const model = process.argv[2] ?? 'fixtures/shakespeare-gpt2';
const maxWindows = Number(process.env.DEV_WINDOWS ?? 16);
const dir = mkdtempSync(join(tmpdir(), 'site-budget-'));
try {
  const { bundlePath } = await convert(model, { out: join(dir, 'm.snn') });
  const bundle = await loadBundle(bundlePath);
  const graph = bundle.contents.graph;
  const T = graph.spiking.timesteps, h = graph.spiking.headroom ?? 0;
  const W = bundle.spec.maxPositions;
  const all = bundle.tokenizer.encode(readFileSync(DEFAULT_CALIBRATION_TEXT, 'utf8'));
  const dev = all.slice(Math.floor(all.length * CALIBRATION_SHARE));
  // DEV_SKIP windows are skipped: choose on the first DEV_WINDOWS, confirm on later ones (still dev).
  const skip = Number(process.env.DEV_SKIP ?? 0);
  const starts = [];
  for (let s = skip * W; s + W <= dev.length && starts.length < maxWindows; s += W) starts.push(s);
  const neurons = graph.nodes.filter((n) => n.op === 'Neuron');
  const V = bundle.spec.vocabSize;

  // The ANN's log-probabilities on the dev windows, once.
  const ann = await bundle.session(true);
  const annLogp = [];
  for (const s of starts) annLogp.push(logSoftmaxRows((await ann.run(windowInput(dev, [s], W))).logits, V));

  /** Dev KL(ANN‖SNN) per token, top-1 agreement and SOPs per token with every site's θ scaled for its budget change. */
  async function measure(budget) {
    const weights = new Map(graph.weights);
    for (const n of neurons) {
      const d = budget.get(n.attrs.site) ?? 0;
      if (d === 0) continue;
      const w = graph.weights.get(n.weights.threshold);
      const factor = nafMax(T - h) / nafMax(T - h - d);
      weights.set(w.name, { ...w, source: { kind: 'data', data: Float32Array.from(weightData(w), (t) => Math.fround(t * factor)) } });
    }
    const session = await openGraphSession({ ...graph, weights }, 'snn', { spikeCounts: {} });
    const spikes = new Map();
    let kl = 0, agree = 0, tokens = 0;
    for (const [k, s] of starts.entries()) {
      const out = await session.run(windowInput(dev, [s], W), neurons.map((n) => `spikecounts/${n.attrs.site}`));
      for (const n of neurons) {
        const c = out.extra.get(`spikecounts/${n.attrs.site}`);
        const D = c.dims[1];
        let sum = 0;
        for (let i = 0; i < D; i++) sum += c.data[i]; // row 0: Σ|v|
        spikes.set(n.outputs[0], (spikes.get(n.outputs[0]) ?? 0) + sum);
      }
      const lp = logSoftmaxRows(out.logits, V);
      for (let j = 0; j < W - 1; j++) {
        const a = annLogp[k].subarray(j * V, (j + 1) * V), b = lp.subarray(j * V, (j + 1) * V);
        let x = 0;
        for (let v = 0; v < V; v++) x += Math.exp(a[v]) * (a[v] - b[v]);
        kl += x; tokens += 1;
        if (argmax(a) === argmax(b)) agree += 1;
      }
    }
    await session.release();
    const n = starts.length * W;
    const sops = countOps(graph, { window: W, spikesPerToken: (v) => (spikes.get(v) ?? 0) / n }).reduce((acc, r) => acc + r.snn.sops, 0);
    const events = [...spikes.values()].reduce((a, b) => a + b, 0) / n;
    return { kl: kl / tokens, top1: agree / tokens, sops, events };
  }

  const sites = neurons.map((n) => n.attrs.site);
  const uniform = (d) => new Map(sites.map((s) => [s, d]));
  const base = await measure(new Map());
  const rows = [['uniform T (every site)', T, base]];
  for (const d of [-1, 1]) rows.push([`uniform T`, T - d, await measure(uniform(d))]);
  console.error(JSON.stringify({ base }));

  // Marginal rates of one digit less (coarser) and one more (finer) at each site alone, on the choice
  // windows (cached in SENSITIVITY, a JSON file, when given).
  let sens = process.env.SENSITIVITY && existsSync(process.env.SENSITIVITY) ? JSON.parse(readFileSync(process.env.SENSITIVITY, 'utf8')) : null;
  if (!sens) {
    sens = { less: [], more: [] };
    for (const s of sites) {
      const c = await measure(new Map([[s, 1]]));
      const f = await measure(new Map([[s, -1]]));
      sens.less.push({ site: s, dKl: c.kl - base.kl, dSops: base.sops - c.sops });
      sens.more.push({ site: s, dKl: base.kl - f.kl, dSops: f.sops - base.sops });
      console.error(`${s}: −1 digit ΔKL ${(c.kl - base.kl).toExponential(2)} ΔSOP −${(base.sops - c.sops).toFixed(0)}; +1 digit ΔKL −${(base.kl - f.kl).toExponential(2)} ΔSOP +${(f.sops - base.sops).toFixed(0)}`);
    }
    if (process.env.SENSITIVITY) writeFileSync(process.env.SENSITIVITY, JSON.stringify(sens));
  }
  // Allocation from the marginal rates (linear estimate): sites whose digits drive no SOPs (Q/K/V feed
  // float attention products) get a digit where it lowers KL beyond the noise; then drop a digit where
  // KL per SOP saved is lowest, and buy KL back with a digit where KL gained per SOP spent is highest,
  // while that trade pays, keeping the estimated KL at the default's.
  const NOISE = 2e-5, FREE = 1000;
  const free = sens.more.filter((m) => m.dSops < FREE && m.dKl > NOISE);
  const coarsen = sens.less.filter((l) => l.dSops >= FREE).sort((a, b) => a.dKl / a.dSops - b.dKl / b.dSops);
  const refine = sens.more.filter((m) => m.dSops >= FREE && m.dKl > NOISE).sort((a, b) => b.dKl / b.dSops - a.dKl / a.dSops);
  const candidates = [];
  for (let k = 1; k <= coarsen.length; k++) {
    const budget = new Map(free.map((m) => [m.site, -1]));
    let estKl = -free.reduce((a, m) => a + m.dKl, 0), estSops = 0;
    for (const l of coarsen.slice(0, k)) { budget.set(l.site, 1); estKl += l.dKl; estSops -= l.dSops; }
    const worst = coarsen[k - 1].dKl / coarsen[k - 1].dSops;
    for (const m of refine) {
      if (estKl <= 0) break;
      if (budget.has(m.site) || m.dKl / m.dSops <= worst) continue;
      budget.set(m.site, -1); estKl -= m.dKl; estSops += m.dSops;
    }
    if (estKl <= 0) candidates.push({ k, budget, estKl, estSops });
  }
  candidates.sort((a, b) => a.estSops - b.estSops);
  const chosen = candidates.slice(0, Number(process.env.CANDIDATES ?? 4));
  for (const c of chosen) {
    const r = await measure(c.budget);
    const coarser = [...c.budget].filter(([, d]) => d > 0).map(([s]) => s), finer = [...c.budget].filter(([, d]) => d < 0).map(([s]) => s);
    rows.push([`per site: −1 digit at ${coarser.length} sites, +1 at ${finer.length} (est. SOPs ${(c.estSops / base.sops * 100).toFixed(1)} %)`, T, r]);
    console.error(JSON.stringify({ k: c.k, coarser, finer, estSops: c.estSops, ...r }));
  }
  console.log(`${model}, dev split: ${starts.length} windows × ${W} tokens from dev window ${skip}`);
  console.log('| budget | T | dev KL | top-1 | events/token | SOPs/token | SOPs vs default |\n|---|---|---|---|---|---|---|');
  for (const [what, t, r] of rows) console.log(`| ${what} | ${t} | ${r.kl.toFixed(5)} | ${(100 * r.top1).toFixed(2)} % | ${r.events.toFixed(0)} | ${r.sops.toFixed(0)} | ${(r.sops / base.sops).toFixed(3)} |`);
  await bundle.release();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function logSoftmaxRows(logits, V) {
  const out = new Float64Array(logits.length);
  for (let r = 0; r < logits.length / V; r++) {
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, logits[r * V + v]);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[r * V + v] - m);
    const lz = m + Math.log(z);
    for (let v = 0; v < V; v++) out[r * V + v] = logits[r * V + v] - lz;
  }
  return out;
}

function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
