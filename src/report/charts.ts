// SpikeScope's charts as Vega-Lite specs, rendered to SVG on the server by Vega (no hand-built SVG).
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { PRICES } from './energy.js';
import type { OpCounts } from './types.js';
import type { SpikeReport } from './types.js';

export interface Chart {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

const CONFIG = { font: 'Helvetica, Arial, sans-serif', view: { stroke: '#ccc' }, axis: { labelFontSize: 10, titleFontSize: 11 } } as const;
const MB = 1024 * 1024;

/** Spike colours: negative values blue, positive red, darker for larger |value|; 0 is never drawn. */
function spikeScale(levels: number): { domain: number[]; range: string[] } {
  const blues = ['#6baed6', '#2171b5', '#08306b'];
  const reds = ['#fc9272', '#cb181d', '#67000d'];
  const k = Math.max(1, levels);
  const shade = (a: number) => (k === 1 ? 1 : Math.round(((a - 1) * 2) / (k - 1)));
  const magnitudes = Array.from({ length: k }, (_, i) => i + 1);
  const neg = [...magnitudes].reverse();
  return { domain: [...neg.map((a) => -a), ...magnitudes], range: [...neg.map((a) => blues[shade(a)]!), ...magnitudes.map((a) => reds[shade(a)]!)] };
}

function siteLevels(r: SpikeReport, site: string): number {
  return r.sites.find((s) => s.site === site)?.levels ?? 1;
}

function firingRates(r: SpikeReport): Chart {
  const values = r.sites.map((s, order) => ({ site: s.site, order, firingRate: s.firingRate, neuron: `${s.kind}${s.levels > 1 ? ` ×${s.levels} levels` : ''}` }));
  return {
    id: 'firing-rate-by-site', title: 'Firing rate per neuron site',
    caption: `Spikes per neuron per step (Σ|value| / (T·tokens·channels)), over ${r.totals.tokens} tokens at T=${r.model.timesteps}.`,
    spec: {
      config: CONFIG, width: Math.max(320, 16 * values.length), height: 220, data: { values }, mark: 'bar',
      encoding: {
        x: { field: 'site', type: 'nominal', sort: { field: 'order' }, axis: { labelAngle: -60 } },
        y: { field: 'firingRate', type: 'quantitative', title: 'firing rate' },
        color: { field: 'neuron', type: 'nominal', title: 'neuron' },
      },
    },
  };
}

function energyByLayer(r: SpikeReport): Chart {
  const parts = (c: OpCounts) => [
    ['float MACs', PRICES.mac * c.macs], ['SOPs', PRICES.sop * c.sops], ['membrane updates', PRICES.membrane * c.membrane],
    ['elementwise', PRICES.add * c.adds + PRICES.mult * c.mults + PRICES.transcendental * c.transcendentals + PRICES.conversion * c.conversions + PRICES.intAdd * c.intAdds],
  ] as const;
  const values = r.layers.flatMap((l) => [
    ...parts(l.ann).map(([part, pj]) => ({ layer: l.label, side: 'ANN', part, nanojoules: pj / 1e3 })),
    ...parts(l.snn).map(([part, pj]) => ({ layer: l.label, side: 'SNN', part, nanojoules: pj / 1e3 })),
  ]);
  return {
    id: 'energy-by-layer', title: 'Energy proxy per layer, ANN vs SNN (a proxy, not a measurement)',
    caption: `${r.energyModel.label}. ${r.energyModel.window}. Left bar of each pair: ANN; right: SNN.`,
    spec: {
      config: CONFIG, width: Math.max(320, 60 * r.layers.length), height: 220, data: { values }, mark: 'bar',
      encoding: {
        x: { field: 'layer', type: 'nominal', sort: null, axis: { labelAngle: 0 } },
        xOffset: { field: 'side', type: 'nominal' },
        y: { field: 'nanojoules', type: 'quantitative', title: 'energy proxy per token (nJ)', stack: 'zero' },
        color: { field: 'part', type: 'nominal', title: 'operations' },
      },
    },
  };
}

function raster(r: SpikeReport): Chart | null {
  const { raster: x } = r;
  if (!x) return null;
  const values = x.cells.map((c) => ({ ...c, tokenLabel: `token ${c.token}` }));
  return {
    id: 'raster', title: `Spike raster: ${x.site}`,
    caption: `Channels ${x.channels[0]}–${x.channels[x.channels.length - 1]} over T=${x.steps} steps for tokens at positions ${x.tokens.join(', ')} of window 0; blank = no spike. ${x.cells.length} non-zero cells.`,
    spec: {
      config: CONFIG, data: { values }, mark: 'rect',
      encoding: {
        column: { field: 'tokenLabel', type: 'ordinal', title: null, sort: x.tokens.map((t) => `token ${t}`) },
        x: { field: 'step', type: 'ordinal', scale: { domain: Array.from({ length: x.steps }, (_, i) => i) }, title: 'timestep' },
        y: { field: 'channel', type: 'ordinal', scale: { domain: [...x.channels] }, axis: { values: x.channels.filter((c) => c % 8 === 0) } },
        color: { field: 'value', type: 'ordinal', title: 'spike', scale: spikeScale(siteLevels(r, x.site)) },
      },
      width: Math.max(120, 12 * x.steps), height: 4 * x.channels.length,
    },
  };
}

function histogram(r: SpikeReport): Chart {
  const h = r.firingRateHistogram;
  const values = h.bins.flatMap((b) => Object.entries(b.counts).map(([role, count]) => ({ from: b.from, to: b.to, role, count })));
  return {
    id: 'firing-rate-histogram', title: 'Firing-rate histogram (per channel)',
    caption: `${h.channels} channels of every site, binned by firing rate (bin ${h.binWidth}), stacked by site role.`,
    spec: {
      config: CONFIG, width: 480, height: 220, data: { values }, mark: 'bar',
      encoding: {
        x: { field: 'from', type: 'quantitative', title: 'firing rate (spikes per neuron per step)', bin: { binned: true, step: h.binWidth }, axis: { format: '.2f' } },
        x2: { field: 'to' },
        y: { field: 'count', type: 'quantitative', title: 'channels', stack: 'zero' },
        color: { field: 'role', type: 'nominal', title: 'site role' },
      },
    },
  };
}

function membrane(r: SpikeReport): Chart | null {
  const m = r.membrane;
  if (!m) return null;
  const values = m.traces.flatMap((tr) => tr.steps.map((s) => ({ channel: `channel ${tr.channel}`, t: s.t, membrane: s.membrane, spike: s.spike })));
  return {
    id: 'membrane', title: `Membrane traces: ${m.site}, token ${m.token}`,
    caption: `Membrane w (units of θ/levels) after integrating each step's input, before the soft reset; dashed lines at ±½ are the firing bounds; dots mark the steps that emitted a spike, coloured by its value. ${m.method}. Replay check: ${m.check.mismatches} mismatches in ${m.check.compared} spike values.`,
    spec: {
      config: CONFIG, data: { values },
      facet: { column: { field: 'channel', type: 'nominal', title: null } },
      spec: {
        width: 180, height: 160,
        layer: [
          { mark: { type: 'rule', strokeDash: [4, 3], color: '#999' }, encoding: { y: { datum: 0.5, type: 'quantitative' } } },
          { mark: { type: 'rule', strokeDash: [4, 3], color: '#999' }, encoding: { y: { datum: -0.5, type: 'quantitative' } } },
          { mark: { type: 'line', point: false }, encoding: { x: { field: 't', type: 'quantitative', title: 'timestep' }, y: { field: 'membrane', type: 'quantitative', title: 'membrane w' } } },
          {
            transform: [{ filter: 'datum.spike != 0' }], mark: { type: 'point', filled: true, size: 60 },
            encoding: { x: { field: 't', type: 'quantitative' }, y: { field: 'membrane', type: 'quantitative' }, color: { field: 'spike', type: 'ordinal', title: 'spike', scale: spikeScale(siteLevels(r, m.site)) } },
          },
        ],
      },
    },
  };
}

function fidelity(r: SpikeReport): Chart {
  const values = r.fidelity.rows.map((x) => ({ timesteps: x.timesteps, ratio: x.ratio }));
  return {
    id: 'fidelity-vs-t', title: 'Fidelity vs T: SNN/ANN perplexity ratio',
    caption: `evaluate() on ${r.fidelity.tokens} tokens (${r.fidelity.windows} windows of ${r.fidelity.window}); the bundle's IR retargeted to each T, thresholds kept.`,
    spec: {
      config: CONFIG, width: 360, height: 220, data: { values },
      layer: [
        { mark: { type: 'rule', strokeDash: [4, 3], color: '#999' }, encoding: { y: { datum: 1, type: 'quantitative' } } },
        { mark: { type: 'line', point: true }, encoding: { x: { field: 'timesteps', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: values.map((v) => v.timesteps) }, title: 'T' }, y: { field: 'ratio', type: 'quantitative', scale: { zero: false }, title: 'SNN ppl / ANN ppl' } } },
      ],
    },
  };
}

function throughput(r: SpikeReport): Chart[] {
  const rows = r.throughput.rows.flatMap((x) => (['ann', 'snn'] as const).map((k) => ({ seq: x.seq, model: k.toUpperCase(), tokensPerSecond: x[k].tokensPerSecond, peakMiB: x[k].rssPeakBytes / MB })));
  const base = (y: string, title: string, log: boolean): TopLevelSpec => ({
    config: CONFIG, width: 320, height: 200, data: { values: rows }, mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'seq', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: rows.map((v) => v.seq) }, title: 'sequence length (tokens)' },
      y: { field: y, type: 'quantitative', scale: log ? { type: 'log' } : { zero: false }, axis: { format: log ? '~s' : '.0f' }, title },
      color: { field: 'model', type: 'nominal' },
    },
  });
  return [
    { id: 'throughput-vs-seq', title: 'Prefill throughput vs sequence length', caption: r.throughput.method, spec: base('tokensPerSecond', 'tokens/s (log)', true) },
    { id: 'memory-vs-seq', title: 'Peak process RSS vs sequence length', caption: 'Same runs as the throughput chart.', spec: base('peakMiB', 'peak RSS (MiB)', false) },
  ];
}

export function reportCharts(r: SpikeReport): Chart[] {
  return [firingRates(r), energyByLayer(r), raster(r), histogram(r), membrane(r), fidelity(r), ...throughput(r)].filter((c): c is Chart => c !== null);
}

/** Compiles a Vega-Lite spec and renders it headless to an SVG string (Vega's own SVG renderer). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
