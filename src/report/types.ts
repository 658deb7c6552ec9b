// The SpikeScope report (spike.report/report.json): its data types. Every spike figure comes from spike tensors.

export const REPORT_FORMAT = 'snnconvert-spike-report';
export const REPORT_FORMAT_VERSION = 1;
export const REPORT_DIR = 'spike.report';
export const REPORT_JSON = 'report.json';
export const REPORT_HTML = 'report.html';

/** Spike statistics of one neuron site over the report's input windows. */
export interface SiteReport {
  readonly site: string;
  /** Block index, or null for sites outside the blocks (the final norm). */
  readonly layer: number | null;
  /** The site's name without its block prefix (`ln_1`, `attn.q`, `mlp.act`, …). */
  readonly role: string;
  readonly kind: string;
  /** Spike levels per step (1: binary/ternary; k > 1: integers in [−k, k]). */
  readonly levels: number;
  readonly channels: number;
  /** Spike tensor entries seen: T × tokens × channels. */
  readonly elements: number;
  /** Non-zero entries (spike events). */
  readonly events: number;
  /** Σ|value|: a multi-level event of value v counts as |v| spikes (docs/design.md §2). */
  readonly spikes: number;
  readonly positiveSpikes: number;
  readonly negativeSpikes: number;
  /** Events with |value| > 1. */
  readonly nonBinaryEvents: number;
  /** spikes / elements: spikes per neuron per step. */
  readonly firingRate: number;
  /** Share of entries that are zero. */
  readonly sparsity: number;
  /** nonBinaryEvents / events. */
  readonly nonBinaryShare: number;
  /** Synaptic operations each spike triggers, and why (see `fanOutRule`). */
  readonly fanOut: number;
  readonly fanOutRule: string;
  readonly consumers: readonly string[];
  /** spikes × fanOut (what the energy proxy uses). */
  readonly sops: number;
  /** events × fanOut: docs/design.md §6's Σ_t nnz(spikes_t) × fan-out, counting a multi-level event once. */
  readonly sopsEvents: number;
  readonly saturation: SaturationReport;
}

/** Operation counts of one side (per token unless said otherwise), priced by energy.ts PRICES. */
export interface OpCounts {
  /** fp32 multiply-accumulates. */
  readonly macs: number;
  /** Synaptic operations: spikes × fan-out (a k-valued event counts |k|), integer adds at the accumulator width. */
  readonly sops: number;
  /** Elementwise fp32 adds and compares (rounding counts as one add, a clip as two compares). */
  readonly adds: number;
  /** Elementwise fp32 multiplies and divides (per-output scales, x/u, q·u rescales, θ/M). */
  readonly mults: number;
  /** exp, tanh/erf, sqrt, reciprocal. */
  readonly transcendentals: number;
  /** Membrane updates: one per neuron per step (an integer compare-and-subtract). */
  readonly membrane: number;
  /** Integer adds at the accumulator width besides SOPs: the 2^k weighting of events (one doubling per output per step). */
  readonly intAdds: number;
  /** int8 × int8 multiply-accumulates into int32 (the W8A8 ANN). */
  readonly intMacs: number;
  /** Conversions between integers and floats (accumulator → float before a scale, float → int8). */
  readonly conversions: number;
}

/** One node's work per token, ANN vs SNN, from the single graph walk (op-costs.ts). */
export interface OpCostRecord {
  readonly node: string;
  readonly op: string;
  readonly layer: number | null;
  readonly ann: OpCounts;
  readonly snn: OpCounts;
  /** The W8A8 integer ANN of the same model (INT8 weights per output channel, INT8 activations at the neuron sites). */
  readonly int8: OpCounts;
  readonly why: string;
}

/** Clipping of one site over the report's windows (docs/design.md §6). */
export interface SaturationReport {
  /** Trains (token × channel) whose count clipped at the neuron's range. */
  readonly trainsClipped: number;
  /** Steps that clipped (rate code: per-step saturation; weighted code: equals trainsClipped). */
  readonly stepsClipped: number;
  readonly trains: number;
  readonly trainShare: number;
  readonly stepShare: number;
}

export interface LayerReport {
  /** Block index, or null for what lies outside the blocks (embeddings, final norm, LM head). */
  readonly layer: number | null;
  readonly label: string;
  readonly sites: number;
  readonly elements: number;
  readonly events: number;
  readonly spikes: number;
  readonly firingRate: number;
  readonly sparsity: number;
  /** Per token. */
  readonly ann: OpCounts;
  readonly snn: OpCounts;
  readonly int8: OpCounts;
  readonly energy: EnergyProxy;
}

/** docs/design.md §6's energy proxy. It is a proxy: operation counts priced at 45 nm figures, not a measurement. */
export interface EnergyProxy {
  readonly annPicojoules: number;
  readonly snnPicojoules: number;
  /** snn / ann (below 1: the proxy favours the SNN). */
  readonly ratio: number;
  /** The W8A8 INT8 ANN (0 when not counted). */
  readonly int8Picojoules: number;
  /** snn / int8 (below 1: the proxy favours the SNN over the equally quantized ANN). */
  readonly ratioInt8: number;
}

export interface Totals {
  readonly tokens: number;
  readonly elements: number;
  readonly events: number;
  readonly spikes: number;
  readonly nonBinaryEvents: number;
  readonly firingRate: number;
  readonly sparsity: number;
  readonly nonBinaryShare: number;
  /** Events per token: non-zero spike entries. */
  readonly eventsPerToken: number;
  readonly trainsClipped: number;
  readonly stepsClipped: number;
  /** Per token: every op of both sides and the energy proxy. */
  readonly perToken: { readonly spikes: number; readonly ann: OpCounts; readonly snn: OpCounts; readonly int8: OpCounts; readonly energy: EnergyProxy };
}

export interface RasterCell { readonly token: number; readonly step: number; readonly channel: number; readonly value: number }

export interface Raster {
  readonly site: string;
  /** Positions (in window 0) of the tokens shown. */
  readonly tokens: readonly number[];
  readonly channels: readonly number[];
  readonly steps: number;
  /** Non-zero cells only; every other (token, step, channel) is 0. */
  readonly cells: readonly RasterCell[];
}

export interface HistogramBin { readonly from: number; readonly to: number; readonly counts: Readonly<Record<string, number>> }

export interface FiringRateHistogram {
  readonly binWidth: number;
  /** Channels counted, over every site. */
  readonly channels: number;
  /** Per bin, channels per site role. */
  readonly bins: readonly HistogramBin[];
}

export interface MembraneStep { readonly t: number; readonly current: number; readonly membrane: number; readonly spike: number }

export interface MembraneTrace {
  readonly channel: number;
  readonly threshold: number;
  /** θ / levels: the membrane below is in these units. */
  readonly unit: number;
  readonly steps: readonly MembraneStep[];
}

export interface MembraneReport {
  readonly site: string;
  readonly token: number;
  readonly method: string;
  /** The reconstruction re-derives every spike of the site on window 0; mismatches should be 0. */
  readonly check: { readonly compared: number; readonly mismatches: number };
  readonly traces: readonly MembraneTrace[];
}

export interface FidelityRow {
  readonly timesteps: number;
  readonly annPpl: number;
  readonly snnPpl: number;
  readonly ratio: number;
  readonly top1Agreement: number;
  readonly kl: number;
}

export interface FidelityReport {
  readonly tokens: number;
  readonly windows: number;
  readonly window: number;
  readonly rows: readonly FidelityRow[];
}

export interface ThroughputSide {
  readonly seconds: number;
  readonly tokensPerSecond: number;
  readonly rssBeforeBytes: number;
  /** Peak process RSS sampled during the run (see `method`). */
  readonly rssPeakBytes: number;
}

export interface ThroughputRow {
  /** The requested lengths measured at `seq` (several when they were capped to the same context). */
  readonly requested: readonly number[];
  readonly seq: number;
  /** True when a requested length exceeded the model context and `seq` was capped to it. */
  readonly capped: boolean;
  readonly ann: ThroughputSide;
  readonly snn: ThroughputSide;
  /** SNN tokens/s ÷ ANN tokens/s. */
  readonly ratio: number;
}

export interface ThroughputReport {
  readonly method: string;
  readonly rows: readonly ThroughputRow[];
}

export interface SpikeReport {
  readonly format: typeof REPORT_FORMAT;
  readonly formatVersion: typeof REPORT_FORMAT_VERSION;
  readonly created: string;
  /** Seconds spent building this report, and per phase. */
  readonly seconds: number;
  readonly phaseSeconds: Readonly<Record<string, number>>;
  readonly model: { readonly arch: string; readonly recipe: string; readonly timesteps: number; readonly code: string; readonly neuronKinds: readonly string[]; readonly layers: number; readonly hiddenSize: number; readonly vocabSize: number; readonly contextLength: number };
  readonly input: { readonly text: string; readonly textSha256: string; readonly window: number; readonly windows: readonly (readonly number[])[] };
  readonly definitions: Readonly<Record<string, string>>;
  readonly energyModel: { readonly label: string; readonly picojoules: Readonly<Record<string, number>>; readonly source: string; readonly window: string };
  readonly totals: Totals;
  readonly layers: readonly LayerReport[];
  readonly sites: readonly SiteReport[];
  /** Every counted node's work per token, ANN vs SNN. */
  readonly ops: readonly OpCostRecord[];
  /** Null when the recipe has no neurons (exact). */
  readonly raster: Raster | null;
  readonly firingRateHistogram: FiringRateHistogram;
  /** Null when the recipe has no neurons (exact). */
  readonly membrane: MembraneReport | null;
  readonly fidelity: FidelityReport;
  readonly throughput: ThroughputReport;
}
