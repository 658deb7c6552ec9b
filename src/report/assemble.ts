// Pure arithmetic from raw counts to the report's tables: per site, per layer, totals, firing-rate histogram.
import { energyProxy } from './energy.js';
import type { SiteFacts } from './graph-facts.js';
import type { SpikeCounter } from './spike-count.js';
import type { FiringRateHistogram, LayerReport, MacRecord, SiteReport, Totals } from './types.js';

const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

export function siteReports(sites: readonly SiteFacts[], counters: readonly SpikeCounter[]): SiteReport[] {
  return sites.map((s, i) => {
    const c = counters[i]!;
    return {
      site: s.site, layer: s.layer, role: s.role, kind: s.kind, levels: s.levels, channels: s.channels,
      elements: c.elements, events: c.events, spikes: c.spikes, positiveSpikes: c.positiveSpikes, negativeSpikes: c.negativeSpikes,
      nonBinaryEvents: c.nonBinaryEvents,
      firingRate: ratio(c.spikes, c.elements), sparsity: 1 - ratio(c.events, c.elements), nonBinaryShare: ratio(c.nonBinaryEvents, c.events),
      fanOut: s.fanOut, fanOutRule: s.fanOutRule, consumers: s.consumers,
      sops: c.spikes * s.fanOut, sopsEvents: c.events * s.fanOut,
    };
  });
}

const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);

export function layerReports(sites: readonly SiteReport[], macs: readonly MacRecord[]): LayerReport[] {
  const keys = [...new Set([...sites.map((s) => s.layer), ...macs.map((m) => m.layer)])]
    .sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
  return keys.map((layer) => {
    const ss = sites.filter((s) => s.layer === layer);
    const ms = macs.filter((m) => m.layer === layer);
    const elements = sum(ss, (s) => s.elements);
    const events = sum(ss, (s) => s.events);
    const spikes = sum(ss, (s) => s.spikes);
    const sops = sum(ss, (s) => s.sops);
    const annMacs = sum(ms, (m) => m.annMacs);
    const snnFloatMacs = sum(ms, (m) => m.snnFloatMacs);
    return {
      layer, label: layer === null ? 'head' : `block ${layer}`, sites: ss.length, elements, events, spikes,
      firingRate: ratio(spikes, elements), sparsity: 1 - ratio(events, elements), sops, annMacs, snnFloatMacs,
      energy: energyProxy(annMacs, sops, snnFloatMacs),
    };
  });
}

export function totals(sites: readonly SiteReport[], macs: readonly MacRecord[], tokens: number): Totals {
  const elements = sum(sites, (s) => s.elements);
  const events = sum(sites, (s) => s.events);
  const spikes = sum(sites, (s) => s.spikes);
  const nonBinaryEvents = sum(sites, (s) => s.nonBinaryEvents);
  const sops = sum(sites, (s) => s.sops);
  const annMacs = sum(macs, (m) => m.annMacs);
  const snnFloatMacs = sum(macs, (m) => m.snnFloatMacs);
  return {
    tokens, elements, events, spikes, nonBinaryEvents,
    firingRate: ratio(spikes, elements), sparsity: 1 - ratio(events, elements), nonBinaryShare: ratio(nonBinaryEvents, events),
    sops, sopsEvents: sum(sites, (s) => s.sopsEvents), annMacs, snnFloatMacs,
    energy: energyProxy(annMacs, sops, snnFloatMacs),
    perToken: {
      spikes: spikes / tokens, sops: sops / tokens, annMacs: annMacs / tokens, snnFloatMacs: snnFloatMacs / tokens,
      energy: energyProxy(annMacs / tokens, sops / tokens, snnFloatMacs / tokens),
    },
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
