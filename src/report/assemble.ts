// Pure arithmetic from raw counts to the report's tables: per site, per layer, totals, firing-rate histogram.
import { energyProxy } from './energy.js';
import type { SiteFacts } from './graph-facts.js';
import type { SpikeCounter } from './spike-count.js';
import { addCounts, ZERO } from './op-costs.js';
import type { FiringRateHistogram, LayerReport, OpCostRecord, OpCounts, SiteReport, Totals } from './types.js';

const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

export function siteReports(sites: readonly SiteFacts[], counters: readonly SpikeCounter[], steps: number): SiteReport[] {
  return sites.map((s, i) => {
    const c = counters[i]!;
    const trains = c.elements / Math.max(1, steps);
    return {
      site: s.site, layer: s.layer, role: s.role, kind: s.kind, levels: s.levels, channels: s.channels,
      elements: c.elements, events: c.events, spikes: c.spikes, positiveSpikes: c.positiveSpikes, negativeSpikes: c.negativeSpikes,
      nonBinaryEvents: c.nonBinaryEvents,
      firingRate: ratio(c.spikes, c.elements), sparsity: 1 - ratio(c.events, c.elements), nonBinaryShare: ratio(c.nonBinaryEvents, c.events),
      fanOut: s.fanOut, fanOutRule: s.fanOutRule, consumers: s.consumers,
      sops: c.spikes * s.fanOut, sopsEvents: c.events * s.fanOut,
      saturation: { trainsClipped: c.trainsClipped, stepsClipped: c.stepsClipped, trains, trainShare: ratio(c.trainsClipped, trains), stepShare: ratio(c.stepsClipped, c.elements) },
    };
  });
}

const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);
const sumCounts = (xs: readonly OpCounts[]): OpCounts => xs.reduce(addCounts, ZERO);

export function layerReports(sites: readonly SiteReport[], ops: readonly OpCostRecord[]): LayerReport[] {
  const keys = [...new Set([...sites.map((s) => s.layer), ...ops.map((m) => m.layer)])]
    .sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
  return keys.map((layer) => {
    const ss = sites.filter((s) => s.layer === layer);
    const ms = ops.filter((m) => m.layer === layer);
    const elements = sum(ss, (s) => s.elements);
    const events = sum(ss, (s) => s.events);
    const spikes = sum(ss, (s) => s.spikes);
    const ann = sumCounts(ms.map((m) => m.ann));
    const snn = sumCounts(ms.map((m) => m.snn));
    const int8 = sumCounts(ms.map((m) => m.int8));
    return {
      layer, label: layer === null ? 'outside blocks' : `block ${layer}`, sites: ss.length, elements, events, spikes,
      firingRate: ratio(spikes, elements), sparsity: 1 - ratio(events, elements), ann, snn, int8, energy: energyProxy(ann, snn, int8),
    };
  });
}

export function totals(sites: readonly SiteReport[], ops: readonly OpCostRecord[], tokens: number): Totals {
  const elements = sum(sites, (s) => s.elements);
  const events = sum(sites, (s) => s.events);
  const spikes = sum(sites, (s) => s.spikes);
  const nonBinaryEvents = sum(sites, (s) => s.nonBinaryEvents);
  const ann = sumCounts(ops.map((m) => m.ann));
  const snn = sumCounts(ops.map((m) => m.snn));
  const int8 = sumCounts(ops.map((m) => m.int8));
  return {
    tokens, elements, events, spikes, nonBinaryEvents,
    firingRate: ratio(spikes, elements), sparsity: 1 - ratio(events, elements), nonBinaryShare: ratio(nonBinaryEvents, events),
    eventsPerToken: events / tokens,
    trainsClipped: sum(sites, (s) => s.saturation.trainsClipped), stepsClipped: sum(sites, (s) => s.saturation.stepsClipped),
    perToken: { spikes: spikes / tokens, ann, snn, int8, energy: energyProxy(ann, snn, int8) },
  };
}

/** Per-channel firing rates (Σ|spikes| / (T × tokens)) of every site, binned, counted per site role. */
export function firingRateHistogram(sites: readonly SiteFacts[], counters: readonly SpikeCounter[], steps: number, tokens: number, binWidth = 0.025): FiringRateHistogram {
  const rates: { role: string; rate: number }[] = [];
  sites.forEach((s, i) => { for (const c of counters[i]!.perChannel) rates.push({ role: s.role, rate: c / (steps * tokens) }); });
  const maxRate = rates.reduce((m, r) => Math.max(m, r.rate), 0);
  const n = Math.max(1, Math.floor(maxRate / binWidth) + 1);
  const bins = Array.from({ length: n }, (_, b) => ({ from: b * binWidth, to: (b + 1) * binWidth, counts: {} as Record<string, number> }));
  for (const { role, rate } of rates) {
    const bin = bins[Math.min(n - 1, Math.floor(rate / binWidth))]!;
    bin.counts[role] = (bin.counts[role] ?? 0) + 1;
  }
  return { binWidth, channels: rates.length, bins };
}
