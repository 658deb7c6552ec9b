// Runs the SNN on the report's windows, counting spikes in the graph: per-site counts, a raster, and membrane traces.
import { writeSync } from 'node:fs';
import { weightData } from '../weights/weight-data.js';
import { openGraphSession } from '../open/graph-session.js';
import { unitCount } from '../ops/spike-code.js';
import { timedValues, type SiteFacts } from './graph-facts.js';
import { checkReplay, replayNeuron, type MembraneInput } from './membrane.js';
import type { ReportSource } from './source.js';
import { runInChunks } from './chunks.js';
import { SpikeCounter } from './spike-count.js';
import { spikeCountOutput } from '../emit/spike-counts.js';
import type { MembraneReport, Raster, RasterCell } from './types.js';

export interface SpikePassOptions {
  /** Token ids of each window (equal lengths). */
  readonly windows: readonly (readonly number[])[];
  /** The site shown in the raster and membrane traces (none when the recipe has no neurons). */
  readonly site: SiteFacts | undefined;
  readonly rasterChannels?: number;
  readonly rasterTokens?: number;
  readonly membraneChannels?: number;
  /** Tokens per call (default REPORT_CHUNK). */
  readonly chunk?: number;
  readonly onWindow?: (done: number, total: number) => void;
  /** A file descriptor the logits of every chunk are appended to (the fidelity curve reads them back for the bundle's own T). */
  readonly logitsTo?: number;
}

export interface SpikePass {
  readonly counters: readonly SpikeCounter[];
  readonly raster: Raster | null;
  readonly membrane: MembraneReport | null;
}

/** The default raster site: the MLP activation of the middle block (wide, sparse), else the first site. */
export function defaultRasterSite(sites: readonly SiteFacts[], layers: number): SiteFacts | undefined {
  const mid = Math.floor(layers / 2);
  return sites.find((s) => s.layer === mid && /^mlp\.(act|gate_mul)$/.test(s.role)) ?? sites.find((s) => s.layer === mid) ?? sites[0];
}

/** Positions of the raster's tokens in window 0: `count` consecutive tokens from position min(8, S − count). */
export function rasterPositions(seq: number, count: number): number[] {
  const n = Math.min(count, seq);
  const first = Math.max(0, Math.min(8, seq - n));
  return Array.from({ length: n }, (_, i) => first + i);
}

/**
 * Runs the SNN over the windows one at a time, each in chunks over its KV cache (chunks.ts), in its
 * spike-counts form: every site's planes are summed per channel inside the graph, so a call returns
 * [rows, D] per site, never sites × T × tokens × D. Only the raster site's planes and its neuron input
 * come back, for the first chunk of window 0: the raster and the membrane replay (checked against the
 * spikes this same run emitted).
 */
export async function collectSpikes(source: ReportSource, opts: SpikePassOptions): Promise<SpikePass> {
  const site = opts.site;
  const session = await openGraphSession(source.graph, 'snn', { spikeCounts: { planes: site ? [site.site] : [] }, ...(site ? { observe: [site.input] } : {}) });
  try {
    const counters = source.sites.map((s) => new SpikeCounter(s.site, s.channels));
    const countOutputs = source.sites.map((s) => spikeCountOutput(s.site));
    let raster: Raster | null = null;
    let membrane: MembraneReport | null = null;
    for (const [w, ids] of opts.windows.entries()) {
      const shown = (start: number) => w === 0 && start === 0 && site !== undefined;
      await runInChunks(session, ids, { ...(opts.chunk ? { chunk: opts.chunk } : {}), extra: (start) => [...countOutputs, ...(shown(start) ? [site!.output, `observe/${site!.input}`] : [])] }, (out, start, length) => {
        if (opts.logitsTo !== undefined) writeSync(opts.logitsTo, new Uint8Array(out.logits.buffer, out.logits.byteOffset, out.logits.byteLength));
        source.sites.forEach((s, i) => counters[i]!.addCounts(out.extra.get(countOutputs[i]!)!.data, source.timesteps * length * s.channels));
        if (!shown(start)) return;
        const spikes = out.extra.get(site!.output)!.data;
        raster = buildRaster(spikes, site!, opts, source.timesteps, length);
        membrane = membraneReport(source, site!, length, raster, out.extra.get(`observe/${site!.input}`)!.data, spikes, opts.membraneChannels ?? 4);
      });
      opts.onWindow?.(w + 1, opts.windows.length);
    }
    return { counters, raster, membrane };
  } finally {
    await session.release();
  }
}

function buildRaster(spikes: Float32Array, site: SiteFacts, opts: SpikePassOptions, T: number, seq: number): Raster {
  const D = site.channels;
  const tokens = rasterPositions(seq, opts.rasterTokens ?? 4);
  const channels = Array.from({ length: Math.min(D, opts.rasterChannels ?? 48) }, (_, c) => c);
  const cells: RasterCell[] = [];
  for (const token of tokens) {
    for (let step = 0; step < T; step++) {
      for (const channel of channels) {
        const value = spikes[(step * seq + token) * D + channel]!;
        if (value !== 0) cells.push({ token, step, channel, value });
      }
    }
  }
  return { site: site.site, tokens, channels, steps: T, cells };
}

/** Replays the neuron of `site` from its observed input (membrane.ts), checks the replay against the spikes, and keeps a few traces. */
function membraneReport(source: ReportSource, site: SiteFacts, seq: number, raster: Raster, current: Float32Array, spikes: Float32Array, channels: number): MembraneReport {
  const input: MembraneInput = {
    current,
    timed: timedValues(source.graph).has(site.input),
    spikes,
    thresholds: weightData(source.graph.weights.get(site.node.weights['threshold']!)!),
    levels: site.levels,
    signed: site.kind === 'SignedIF',
    timesteps: source.timesteps,
    seq,
    code: source.graph.spiking?.code ?? 'rate',
    headroom: source.graph.spiking?.headroom ?? 0,
  };
  const token = raster.tokens[0] ?? 0;
  const active = raster.channels.filter((c) => raster.cells.some((x) => x.token === token && x.channel === c));
  const chosen = [...active, ...raster.channels.filter((c) => !active.includes(c))].slice(0, channels);
  return {
    site: site.site, token,
    method: input.code === 'weighted' ? 'reconstructed: the neuron input (integrated over the phase) was observed on the SNN (an extra output of the same graph) and the weighted neuron replayed from it: q = clip(round(x/u)), u = θ/M_T, then at step t fire sign(r) when |r| > M_k (k = T−1−t) and subtract 2^k; membrane = the remaining count r; the replay re-derives every spike of the site on the first chunk of window 0 (check)' : 'reconstructed: the neuron input current was observed on the SNN (an extra output of the same graph) and the neuron replayed in float32 from it, w_t = Σ_{≤t} x/u − Σ_{<t} s with u = θ/levels; the replay re-derives every spike of the site on the first chunk of window 0 (check)',
    check: checkReplay(input),
    traces: chosen.map((channel) => ({ channel, threshold: input.thresholds[channel]!, unit: Math.fround(input.thresholds[channel]! / (input.code === 'weighted' ? unitCount(source.timesteps, input.headroom ?? 0) : site.levels)), steps: replayNeuron(input, token, channel) })),
  };
}
