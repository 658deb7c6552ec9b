// buildSpikeReport(): runs a bundle's SNN and ANN on real text and assembles SpikeScope's report.json.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { makeTempDir } from '../util/temp-paths.js';
import { SnnError } from '../errors/index.js';
import { RssSampler } from '../bench/rss-sampler.js';
import { capLengths, timePrefill } from '../bench/throughput.js';
import { firingRateHistogram, layerReports, siteReports, totals } from './assemble.js';
import { checkReportBudget } from './budget.js';
import { REPORT_CHUNK } from './chunks.js';
import { fidelityCurve } from './fidelity.js';
import { collectSpikes, defaultRasterSite } from './collect-spikes.js';
import { ENERGY_MODEL } from './energy.js';
import { neuronSites } from './graph-facts.js';
import { countOps } from './op-costs.js';
import type { ReportSource } from './source.js';
import { REPORT_FORMAT, REPORT_FORMAT_VERSION, type SpikeReport, type ThroughputReport } from './types.js';

/** The default report text: the held-out TinyShakespeare split shipped with the package (never used for calibration). */
import { DEFAULT_REPORT_TEXT } from '../calibrate/data.js';
export { DEFAULT_REPORT_TEXT };

export interface ReportOptions {
  /** UTF-8 text file; default DEFAULT_REPORT_TEXT. */
  readonly text?: string;
  /** Windows of `window` tokens, taken one after another from the start of the text (default REPORT_DEFAULTS.windows). */
  readonly windows?: number;
  /** Default: the model's context length up to REPORT_DEFAULTS.maxWindow (energy is counted over windows of this length). */
  readonly window?: number;
  /** T values for the fidelity curve besides the bundle's own T (default REPORT_DEFAULTS.sweep). */
  readonly sweep?: readonly number[];
  /** Prefill lengths for throughput and memory (default REPORT_DEFAULTS.lengths; capped at the context). */
  readonly lengths?: readonly number[];
  /**
   * Bytes the report may use beyond the loaded weights (default: none checked). Windows run one at a
   * time, so the budget must hold one; a smaller budget is refused (REPORT_BUDGET) before any run.
   */
  readonly memoryBudget?: number;
  /** Tokens per call when a window runs through the KV cache (default REPORT_CHUNK; chunks.ts). */
  readonly chunk?: number;
  /** Site of the raster and membrane traces (default: the middle block's MLP activation). */
  readonly site?: string;
  readonly onProgress?: (message: string, done?: number, total?: number) => void;
}

/**
 * Defaults of the report, at conversion and from `snnconvert report`, chosen so the report costs less
 * than the conversion and a default distilgpt2-shaped conversion fits a minute on two cores
 * (bench/RESULTS.md): one window of the context, at most 1024 tokens (a longer context costs minutes per
 * window; report.json states the window), for the spike counts and the fidelity figures; fidelity at the
 * bundle's own T only, scored from the spike pass's logits (each further T costs a quantization, a
 * session build and a window through the SNN: T − 2 took 7.5 s of distilgpt2-shaped's 60); and two short
 * prefill lengths. Ask for more with --windows, --sweep and --lengths.
 */
export const REPORT_DEFAULTS = { windows: 1, maxWindow: 1024, sweep: (_T: number): number[] => [], lengths: [16, 64] } as const;

export const DEFINITIONS: Readonly<Record<string, string>> = {
  spikes: 'Σ|value| over the spike tensors [T, B, S, D]: a multi-level event of value v counts as |v| spikes; for the weighted code each value is one signed NAF digit',
  events: 'non-zero entries of the spike tensors',
  firingRate: 'spikes / (T × tokens × channels): spikes per neuron per timestep (can exceed 1 for multi-level neurons)',
  sparsity: 'share of spike-tensor entries that are zero',
  nonBinaryShare: 'share of events with |value| > 1 (multi-level neurons)',
  fanOut: 'synaptic operations one spike triggers (op-costs.ts spikeFanOut): outFeatures of each Linear reading the site; weighted attention: L̄ scores per Q spike (0 with RoPE), group × L̄ outputs per V spike, 0 for K (cached count); rate attention and readout: 1 accumulate',
  sops: 'spikes × fan-out; sopsEvents = events × fan-out counts a multi-level event once',
  saturation: 'trains (token × channel) whose count clipped at the neuron range, and clipped steps (rate code: per-step saturation of multi-level neurons)',
  ops: 'per token and per node, from one walk over the spiking IR with the same rules for both sides: float MACs, SOPs, elementwise adds/compares, mults, transcendentals, membrane updates (op-costs.ts)',
  energy: ENERGY_MODEL.label,
};

export async function buildSpikeReport(source: ReportSource, opts: ReportOptions = {}): Promise<SpikeReport> {
  const started = performance.now();
  const progress = opts.onProgress ?? (() => undefined);
  const spec = source.spec;
  const T = source.timesteps;
  const textPath = opts.text ?? DEFAULT_REPORT_TEXT;
  let text: string;
  try { text = readFileSync(textPath, 'utf8'); } catch (e) {
    throw new SnnError('TEXT_INVALID', { message: `cannot read the report text: ${(e as Error).message}`, at: textPath, cause: e });
  }
  const ids = source.tokenizer.encode(text);
  const window = Math.min(opts.window ?? REPORT_DEFAULTS.maxWindow, spec.maxPositions);
  const count = opts.windows ?? REPORT_DEFAULTS.windows;
  if (ids.length < count * window) throw new SnnError('TEXT_INVALID', { message: `the report text has ${ids.length} tokens; ${count} windows of ${window} need ${count * window}`, at: textPath, hint: 'give a longer --text or fewer --windows' });
  const windows = Array.from({ length: count }, (_, w) => ids.slice(w * window, (w + 1) * window));
  const site = opts.site === undefined ? defaultRasterSite(source.sites, spec.numLayers) : source.sites.find((s) => s.site === opts.site);
  if (!site && opts.site !== undefined) {
    throw new SnnError('OPTION_INVALID', { message: `no neuron site ${JSON.stringify(opts.site)} (valid: ${source.sites.map((s) => s.site).join(', ') || `none: the ${source.recipe} recipe has no neurons`})`, at: '--site' });
  }

  if (opts.memoryBudget !== undefined) {
    checkReportBudget({ spec, timesteps: T, window, chunk: opts.chunk ?? REPORT_CHUNK, maxChannels: source.sites.reduce((m, s) => Math.max(m, s.channels), 0) }, opts.memoryBudget);
  }
  const phaseSeconds: Record<string, number> = {};
  const phase = async <R>(name: string, run: () => Promise<R>): Promise<R> => {
    progress(name);
    const t0 = performance.now();
    try { return await run(); } finally { phaseSeconds[name] = (phaseSeconds[name] ?? 0) + (performance.now() - t0) / 1000; }
  };
  // The spike pass's logits (its form computes the closed form's, bit for bit) give the fidelity row at the bundle's own T.
  const { path: logitsDir, remove: removeLogits } = makeTempDir('snnconvert-report-');
  const logitsFd = openSync(join(logitsDir, 'snn-logits.f32'), 'w+');
  try {
    const pass = await phase('spikes', () => collectSpikes(source, { windows, site, logitsTo: logitsFd, ...(opts.chunk ? { chunk: opts.chunk } : {}), onWindow: (d, t) => progress('spikes', d, t) }));
    const tokens = count * window;
    const sites = siteReports(neuronSites(source.graph, window), pass.counters, T);
    const spikesPerToken = new Map(source.sites.map((s, i) => [s.node.outputs[0]!, pass.counters[i]!.spikes / tokens]));
    const ops = countOps(source.graph, { window, spikesPerToken: (v) => spikesPerToken.get(v) ?? 0 });
    // The throughput curve runs while the fidelity pass's ANN session is open (one session opened less), before the sweep's SNNs.
    let throughput: ThroughputReport | null = null;
    const throughputPhase = async () => { throughput = await phase('throughput', () => throughputCurve(source, ids, opts.lengths ?? REPORT_DEFAULTS.lengths, progress)); };
    const fidelity = await phase('fidelity', () => fidelityCurve(source, windows, opts.sweep ?? REPORT_DEFAULTS.sweep(T), { chunk: opts.chunk ?? REPORT_CHUNK, progress, ownLogits: logitsFd, whileAnnOpen: throughputPhase }));
    phaseSeconds['fidelity']! -= phaseSeconds['throughput']!;
    return {
      format: REPORT_FORMAT, formatVersion: REPORT_FORMAT_VERSION, created: new Date().toISOString(), seconds: (performance.now() - started) / 1000, phaseSeconds,
      model: {
        arch: spec.arch, recipe: source.recipe, timesteps: T, code: source.graph.spiking?.code ?? 'rate', neuronKinds: [...new Set(source.sites.map((s) => s.kind))],
        layers: spec.numLayers, hiddenSize: spec.hiddenSize, vocabSize: spec.vocabSize, contextLength: spec.maxPositions,
      },
      input: { text: textPath, textSha256: createHash('sha256').update(text).digest('hex'), window, windows },
      definitions: DEFINITIONS, energyModel: { ...ENERGY_MODEL, window: `per token, averaged over ${count} window(s) of ${window} tokens${window === spec.maxPositions ? ' (the model context)' : ''}; attention sees L̄ = (window + 1)/2 keys` },
      totals: totals(sites, ops, tokens), layers: layerReports(sites, ops), sites, ops,
      raster: pass.raster, firingRateHistogram: firingRateHistogram(source.sites, pass.counters, T, tokens), membrane: pass.membrane,
      fidelity, throughput: throughput!,
    };
  } finally {
    closeSync(logitsFd);
    removeLogits();
  }
}

/** Prefill tokens/s and peak RSS, ANN then SNN at each length (ascending), one timed run each after one warm-up. */
async function throughputCurve(source: ReportSource, ids: readonly number[], lengths: readonly number[], progress: NonNullable<ReportOptions['onProgress']>): Promise<ThroughputReport> {
  const ctx = source.spec.maxPositions;
  const wanted = capLengths(lengths, ctx);
  const long = ids.length >= ctx ? ids : Array.from({ length: ctx }, (_, i) => ids[i % ids.length]!);
  const sampler = new RssSampler();
  try {
    // One model in memory at a time: the ANN at every length, then the SNN.
    const side = async (wantAnn: boolean) => {
      const session = await source.session(wantAnn);
      await timePrefill(session, long, wanted[0]!.seq, { reps: 1, sampler });
      const runs = [];
      for (const [i, { seq }] of wanted.entries()) {
        progress(`throughput ${wantAnn ? 'ANN' : 'SNN'}`, i, wanted.length);
        const r = await timePrefill(session, long, seq, { reps: 1, sampler });
        runs.push({ seconds: r.seconds, tokensPerSecond: r.tokensPerSecond, rssBeforeBytes: r.rssBeforeBytes, rssPeakBytes: r.rssPeakBytes });
      }
      await source.releaseSession(wantAnn);
      return runs;
    };
    const ann = await side(true);
    const snn = await side(false);
    const rows = wanted.map(({ requested, seq, capped }, i) => ({ requested, seq, capped, ann: ann[i]!, snn: snn[i]!, ratio: snn[i]!.tokensPerSecond / ann[i]!.tokensPerSecond }));
    return {
      method: `prefill of seq tokens (batch 1, no cache) in this process, the ANN at every length in ascending order, then the SNN (one model loaded at a time), one timed run each after one warm-up run at the smallest length; peak process RSS sampled every ${sampler.intervalMs} ms by a worker thread during the run (includes the loaded model and memory kept by earlier runs). Lengths above the context (${ctx}) are capped to it. snnconvert bench repeats runs and also times decode.`,
      rows,
    };
  } finally {
    await sampler.stop();
  }
}
