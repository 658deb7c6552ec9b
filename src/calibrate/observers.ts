// Observers: run the ANN through onnxruntime with the neuron sites as extra outputs and set θ per channel.
import type { Graph, Node, Weight } from '../ir/types.js';
import { openGraphSession } from '../open/graph-session.js';
import { rowsChunkInput } from '../runtime/windows.js';
import type { CalibrationData } from './data.js';
import { ChannelTopK, type ThresholdMode } from './thresholds.js';
import { neuronAttrs, neuronsOf } from '../ops/spiking.js';

export interface SiteThresholds {
  readonly site: string;
  readonly kind: string;
  readonly channels: number;
  readonly min: number;
  readonly mean: number;
  readonly max: number;
}

export interface CalibrationResult {
  readonly graph: Graph;
  readonly sites: readonly SiteThresholds[];
  readonly samples: number;
  readonly tokens: number;
}

export interface CalibrateOptions {
  readonly mode: ThresholdMode;
  readonly batch?: number;
  /** Tokens per call of a longer window (default OBSERVE_CHUNK). */
  readonly chunk?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Tokens per call when a window is longer: it runs in chunks over the KV cache, so attention scores only
 * the keys each chunk can see instead of the whole causal square. Every row's scores, softmax and value
 * sums are those of the whole window (the keys a row cannot see add exact zeros), so the observed values,
 * and the thresholds, are the same bit for bit (test/calibrate/sample-observe.test.ts). SmolLM2-135M-shaped, a
 * 1 024-token window: 2.2–2.3 s whole, less in chunks of 256 (bench/RESULTS.md); 128 cost more than 256.
 */
export const OBSERVE_CHUNK = 256;

/** [from, to) of each call over a window of `length` tokens: chunks of `chunk`, none of one token (multiRow). */
export function observeChunks(length: number, chunk: number): [number, number][] {
  const starts: number[] = [];
  for (let from = 0; from < length; from += chunk) starts.push(from);
  if (starts.length > 1 && length - starts.at(-1)! < 2) starts[starts.length - 1] = length - 2;
  return starts.map((from, i) => [from, starts[i + 1] ?? length]);
}

/**
 * Per-channel statistics of every neuron's input, fed rows of observed values in any order (max and
 * the top-k of a percentile do not depend on it), then turned into the calibrated graph.
 */
export class ThresholdObservers {
  private readonly neurons: readonly Node[];
  private readonly stats: readonly ChannelTopK[];
  /** The IR values observed: each neuron's input, in graph order. */
  readonly observed: readonly string[];
  /** The session outputs that carry them (`observe/<value>`). */
  readonly outputs: readonly string[];

  /** `rows`: how many rows (tokens) will be added in all, which sizes a percentile's top-k. */
  constructor(private readonly graph: Graph, mode: ThresholdMode, private readonly rows: number) {
    this.neurons = neuronsOf(graph.nodes).map(({ node }) => node);
    this.observed = this.neurons.map((n) => n.inputs[0]!);
    this.outputs = this.observed.map((v) => `observe/${v}`);
    this.stats = this.neurons.map((n) => new ChannelTopK(graph.weights.get(n.weights['threshold']!)!.shape[0]!, mode, rows));
  }

  /** Adds one call's observed values ([rows, channels] per site), keyed by output name. */
  add(out: ReadonlyMap<string, Float32Array>): void {
    this.neurons.forEach((n, j) => this.stats[j]!.add(out.get(this.outputs[j]!)!, isSigned(n)));
  }

  /**
   * What a session reduces each site to ahead of `addTop`: each channel's k largest (of |x| at a
   * SignedIF's input) per call (emitOnnx's observeTop).
   */
  get top(): { readonly k: number; readonly abs: ReadonlySet<string> } {
    return { k: this.stats[0]?.k ?? 1, abs: new Set(this.neurons.filter(isSigned).map((n) => n.inputs[0]!)) };
  }

  /** Adds one call's reduced values ([≤ k, channels] per site, see `top`) standing for `rows` rows. */
  addTop(out: ReadonlyMap<string, Float32Array>, rows: number): void {
    this.stats.forEach((s, j) => s.add(out.get(this.outputs[j]!)!, false, rows));
  }

  /** The graph with every neuron's threshold set from the statistics, and a summary per site. */
  finish(samples: number): CalibrationResult {
    const weights = new Map(this.graph.weights);
    const sites = this.neurons.map((n, j) => {
      const theta = this.stats[j]!.thresholds();
      const name = n.weights['threshold']!;
      weights.set(name, { name, shape: [theta.length], source: { kind: 'data', data: theta } } satisfies Weight);
      return summarize(n, theta);
    });
    return { graph: { ...this.graph, weights }, sites, samples, tokens: this.neurons.length ? this.rows : 0 };
  }
}

/** Observes every neuron's input on the ANN and returns the graph with calibrated thresholds (docs/design.md §3). */
export async function calibrateThresholds(graph: Graph, data: CalibrationData, opts: CalibrateOptions): Promise<CalibrationResult> {
  const observers = new ThresholdObservers(graph, opts.mode, data.samples.length * data.maxLength);
  if (observers.observed.length === 0) return observers.finish(data.samples.length);
  // One window per call: activations stay small next to the weights (distilgpt2-shaped conversion:
  // 2 per call 24.6 s / 772 MiB peak, 1 per call 15.8 s / 668 MiB).
  const per = opts.batch ?? 1;
  // Calls of two or more tokens need no row-stability padding (emitOnnx's multiRow): a copy of every layer's scores less.
  const multiRow = data.samples.every((w) => w.length >= 2);
  // Onnxruntime's defaults (prepacked weights, the arena), like sampling (sample.ts): the arena-less low-memory
  // session faulted in fresh pages for every call's tensors, 2.1× slower on 1 024-token windows (bench/RESULTS.md).
  // Each site comes back as its channels' k largest values of the call, not every row (emitOnnx's observeTop):
  // SmolLM2-135M-shaped's sites hold 0.5 GB per 1 024-token window, and keeping the top in JS took 0.5 s of it.
  const chunk = Math.max(3, opts.chunk ?? OBSERVE_CHUNK);
  const chunked = multiRow && data.samples.some((w) => w.length > chunk);
  const session = await openGraphSession(graph, 'ann', { observe: observers.observed, observeOnly: chunked ? 'cache' : true, multiRow, observeTop: observers.top });
  try {
    for (let i = 0; i < data.samples.length; i += per) {
      const rows = data.samples.slice(i, i + per);
      let cache: Float32Array[] = [];
      for (const [from, to] of observeChunks(rows[0]!.length, chunk)) {
        const input = rowsChunkInput(rows, from, to, cache);
        if (chunked) {
          const out = await session.observeCached(input, observers.outputs);
          observers.addTop(out.observed, rows.length * (to - from));
          cache = out.present;
        } else {
          observers.addTop(await session.observe(input, observers.outputs), rows.length * (to - from));
        }
      }
      opts.onProgress?.(Math.min(i + per, data.samples.length), data.samples.length);
    }
  } finally {
    await session.release();
  }
  return observers.finish(data.samples.length);
}

function isSigned(n: Node): boolean {
  return neuronAttrs(n)!.kind === 'SignedIF';
}

function summarize(n: Node, theta: Float32Array): SiteThresholds {
  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of theta) { min = Math.min(min, v); max = Math.max(max, v); sum += v; }
  const { site, kind } = neuronAttrs(n)!;
  return { site, kind, channels: theta.length, min, mean: sum / theta.length, max };
}
