// report.html: a self-contained page (inline CSS, inline SVG charts rendered by Vega, no scripts) from report.json.
import { reportCharts, renderSvg } from './charts.js';
import type { SpikeReport } from './types.js';

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** 1234567 → 1.23 M; small numbers keep 3 significant digits. */
export function formatCount(n: number): string {
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [v, u] of units) if (Math.abs(n) >= v) return `${(n / v).toPrecision(3)} ${u}`;
  return Number.isInteger(n) ? String(n) : n.toPrecision(3);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (v: string | number) => `<td>${escapeHtml(typeof v === 'number' ? formatCount(v) : v)}</td>`;
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('')}</tbody></table>`;
}

function summary(r: SpikeReport): string {
  const t = r.totals;
  const e = t.perToken.energy;
  return `<div class="cards">
<div class="card"><b>${pct(t.firingRate)}</b><span>firing rate (spikes per neuron per step)</span></div>
<div class="card"><b>${pct(t.sparsity)}</b><span>sparsity (zero entries)</span></div>
<div class="card"><b>${pct(t.nonBinaryShare)}</b><span>non-binary events</span></div>
<div class="card"><b>${formatCount(t.perToken.snn.sops)}</b><span>SOPs per token</span></div>
<div class="card"><b>${formatCount(t.perToken.snn.macs)}</b><span>float MACs per token left in the SNN (ANN: ${formatCount(t.perToken.ann.macs)} MACs)</span></div>
<div class="card"><b>${formatCount(t.trainsClipped)}</b><span>clipped trains (${formatCount(t.stepsClipped)} clipped steps)</span></div>
<div class="card proxy"><b>${e.ratio.toFixed(3)}×</b><span>energy <em>proxy</em> SNN/FP32 ANN: ${(e.snnPicojoules / 1e6).toFixed(3)} vs ${(e.annPicojoules / 1e6).toFixed(3)} µJ per token</span></div>
<div class="card proxy"><b>${e.ratioInt8.toFixed(3)}×</b><span>energy <em>proxy</em> SNN/INT8 ANN (W8A8, same sites and thresholds): ${(e.snnPicojoules / 1e6).toFixed(3)} vs ${(e.int8Picojoules / 1e6).toFixed(3)} µJ per token</span></div>
</div>`;
}

function tables(r: SpikeReport): string {
  const sites = table(['site', 'neuron', 'levels', 'channels', 'events', 'spikes', 'firing rate', 'sparsity', 'non-binary', 'fan-out', 'SOPs', 'clipped trains', 'clipped steps'],
    r.sites.map((s) => [s.site, s.kind, s.levels, s.channels, s.events, s.spikes, pct(s.firingRate), pct(s.sparsity), pct(s.nonBinaryShare), s.fanOut, s.sops, `${s.saturation.trainsClipped} (${pct(s.saturation.trainShare)})`, `${s.saturation.stepsClipped} (${pct(s.saturation.stepShare)})`]));
  const layers = table(['layer', 'sites', 'spikes', 'firing rate', 'SOPs/token', 'SNN float MACs/token', 'ANN MACs/token', 'ANN nJ/token (proxy)', 'SNN nJ/token (proxy)', 'SNN/ANN'],
    r.layers.map((l) => [l.label, l.sites, l.spikes, pct(l.firingRate), l.snn.sops, l.snn.macs, l.ann.macs, (l.energy.annPicojoules / 1e3).toFixed(2), (l.energy.snnPicojoules / 1e3).toFixed(2), l.energy.ratio.toFixed(3)]));
  const ops = table(['node', 'op', 'ANN MACs', 'ANN elementwise (add/mult/transc.)', 'SNN SOPs', 'SNN float MACs', 'SNN elementwise (add/mult/transc.)', 'SNN membrane', 'why'],
    r.ops.map((m) => [m.node, m.op, m.ann.macs, `${formatCount(m.ann.adds)}/${formatCount(m.ann.mults)}/${formatCount(m.ann.transcendentals)}`, m.snn.sops, m.snn.macs, `${formatCount(m.snn.adds)}/${formatCount(m.snn.mults)}/${formatCount(m.snn.transcendentals)}`, m.snn.membrane, m.why]));
  const fid = table(['T', 'KL (nats)', 'top-1 agreement', 'ratio', 'ANN ppl', 'SNN ppl'],
    r.fidelity.rows.map((x) => [x.timesteps, x.kl.toFixed(4), pct(x.top1Agreement), x.ratio.toFixed(4), x.annPpl.toFixed(3), x.snnPpl.toFixed(3)]));
  const thr = table(['seq', 'ANN tok/s', 'SNN tok/s', 'SNN/ANN', 'ANN peak RSS', 'SNN peak RSS'],
    r.throughput.rows.map((x) => [`${x.seq}${x.capped ? ` (capped from ${x.requested.filter((q) => q > x.seq).join(', ')})` : ''}`, x.ann.tokensPerSecond.toFixed(1), x.snn.tokensPerSecond.toFixed(1), x.ratio.toFixed(4), `${(x.ann.rssPeakBytes / 2 ** 20).toFixed(0)} MiB`, `${(x.snn.rssPeakBytes / 2 ** 20).toFixed(0)} MiB`]));
  const defs = `<dl>${Object.entries(r.definitions).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
  return `<h2>Per site</h2>${sites}<h2>Per layer</h2>${layers}<h2>Operations per token (one walk, both sides)</h2><p class="note">${escapeHtml(r.energyModel.window)}</p>${ops}
<h2>Fidelity vs T</h2>${fid}<h2>Throughput and memory</h2>${thr}<p class="note">${escapeHtml(r.throughput.method)}</p>
<h2>Definitions</h2>${defs}`;
}

const STYLE = `body{font:14px/1.45 Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:20px}.card span{font-size:12px;color:#555}.proxy{background:#fff8e1}
figure{margin:18px 0;overflow-x:auto}figcaption{font-size:12px;color:#555;max-width:900px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
td:first-child,th:first-child{text-align:left}.note{font-size:12px;color:#555}dt{font-weight:bold;margin-top:6px}dd{margin-left:16px}`;

/** The whole report.html. */
export async function renderReportHtml(r: SpikeReport): Promise<string> {
  const charts = reportCharts(r);
  const figures: string[] = [];
  for (const c of charts) {
    figures.push(`<figure id="${c.id}" class="chart"><h3>${escapeHtml(c.title)}</h3>${await renderSvg(c.spec)}<figcaption>${escapeHtml(c.caption)}</figcaption></figure>`);
  }
  const m = r.model;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SpikeScope: ${escapeHtml(m.arch)} ${escapeHtml(m.recipe)} T=${m.timesteps}</title><style>${STYLE}</style></head>
<body>
<h1>SpikeScope — ${escapeHtml(m.arch)}, recipe ${escapeHtml(m.recipe)}, T=${m.timesteps}, ${escapeHtml(m.code)} code</h1>
<p>${m.layers} blocks, width ${m.hiddenSize}, vocabulary ${m.vocabSize}, context ${m.contextLength}; neurons: ${escapeHtml(m.neuronKinds.join(', ') || 'none')}.
Every spike figure is counted from the SNN's spike tensors on ${r.totals.tokens} tokens (${r.input.windows.length} windows of ${r.input.window}) of <code>${escapeHtml(r.input.text)}</code>. Built ${escapeHtml(r.created)} in ${r.seconds.toFixed(1)} s.</p>
${summary(r)}
<p class="note">${escapeHtml(r.energyModel.label)} — ${escapeHtml(r.energyModel.source)}.</p>
${figures.join('\n')}
${tables(r)}
</body></html>
`;
}
