// Data-free calibration: windows of text sampled from the source ANN itself, seeded and recorded.
import { SnnError } from '../errors/index.js';
import type { Graph } from '../ir/types.js';
import { createRng, sampleToken, type Rng } from '../runtime/sampling.js';
import { openGraphSession } from '../open/graph-session.js';
import type { CalibrationData } from './data.js';
import type { ThresholdObservers } from './observers.js';

export interface ModelSampleOptions {
  readonly samples: number;
  readonly length: number;
  readonly seed: number;
  /** The first token of every row: the model's BOS (or EOS, GPT-2's document separator), else 0. */
  readonly start: number;
  /** Sampling temperature (default 1: the model's own distribution). */
  readonly temperature?: number;
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Calibrate while sampling: each step's neuron inputs (the new token of every row) go to these
   * observers, and one last step observes the last sampled token, so no second pass over the windows
   * is needed. `graph` must then be the graph the observers were made for (its ANN lowering computes
   * the source ANN's logits). Cached steps give the same values, bit for bit, as the whole window
   * recomputed (test/calibrate/sample-observe.test.ts, every shipped family), so the thresholds are those
   * of calibrateThresholds on the sampled windows.
   */
  readonly observers?: ThresholdObservers;
}

/**
 * Longest stretch of text sampled as one row. Longer windows are joined from documents of this length,
 * each opening with the start token (the model's own document separator), so every position of the
 * window is still calibrated while sampling's K/V cache and its per-step copies stay those of short
 * rows: a 1 024-token context sampled whole cost ~30 min and 13× the weights on distilgpt2-shaped
 * (bench/RESULTS.md). A cost bound, not a fidelity setting: no figure chose it.
 */
export const SAMPLED_DOCUMENT_LENGTH = 256;

/**
 * Samples `samples` windows of `length` tokens from the ANN, all rows of a batch through its KV cache,
 * each token drawn from the model's distribution with a seeded generator (so the same seed gives the
 * same windows). For a model whose domain is unknown this is text the model itself finds typical.
 * Windows longer than SAMPLED_DOCUMENT_LENGTH are joined from sampled documents (observers then need
 * a separate pass over the windows: `observers` is refused for them).
 */
export async function sampleFromModel(graph: Graph, opts: ModelSampleOptions): Promise<CalibrationData> {
  const { samples: B, length } = opts;
  const rng = createRng(opts.seed);
  const text = `model-sampled (seed ${opts.seed}, temperature ${opts.temperature ?? 1})`;
  if (length <= SAMPLED_DOCUMENT_LENGTH) {
    return { samples: await sampleRows(graph, B, length, rng, opts, opts.onProgress), text, numSamples: B, maxLength: length };
  }
  if (opts.observers) throw new SnnError('GRAPH_INVALID', { message: `observing while sampling needs windows of at most ${SAMPLED_DOCUMENT_LENGTH} tokens, got ${length}`, at: 'sampleFromModel' });
  const parts = Math.ceil(length / SAMPLED_DOCUMENT_LENGTH);
  const windows: number[][] = Array.from({ length: B }, () => []);
  for (let part = 0; part < parts; part++) {
    const docLength = Math.min(SAMPLED_DOCUMENT_LENGTH, length - part * SAMPLED_DOCUMENT_LENGTH);
    const done = part * SAMPLED_DOCUMENT_LENGTH;
    const rows = await sampleRows(graph, B, docLength, rng, opts, (d) => opts.onProgress?.(done + d, length));
    rows.forEach((r, b) => windows[b]!.push(...r));
  }
  return { samples: windows, text: `${text}, documents of ${SAMPLED_DOCUMENT_LENGTH} tokens joined`, numSamples: B, maxLength: length };
}

async function sampleRows(graph: Graph, B: number, length: number, rng: Rng, opts: ModelSampleOptions, onProgress: ((done: number, total: number) => void) | undefined): Promise<number[][]> {
  const observers = opts.observers;
  const observe = observers && observers.observed.length > 0 ? observers : undefined;
  // Prepacked weights and the arena (onnxruntime's defaults, as every ANN session here): a step over 16 rows of
  // SmolLM2-135M-shaped at 128 cached tokens takes 180 ms, 311 ms unpacked and 2–3× more without the arena
  // (fresh pages for every output; bench/RESULTS.md).
  const session = await openGraphSession(graph, 'ann', { ...(observe ? { observe: observe.observed } : {}) });
  const V = graph.spec.vocabSize;
  const rows = Array.from({ length: B }, () => [opts.start]);
  try {
    let cache: Float32Array[] = [];
    // With observers, the last step runs only to observe the last token (its logits are not drawn from).
    const steps = observe ? length : length - 1;
    for (let past = 0; past < steps; past++) {
      const ids = BigInt64Array.from(rows, (r) => BigInt(r[past]!));
      const out = await session.run({ batch: B, seq: 1, ids, mask: new BigInt64Array(B * (past + 1)).fill(1n), positions: new BigInt64Array(B).fill(BigInt(past)), past, cache }, observe?.outputs ?? []);
      cache = out.present;
      if (observe) observe.add(new Map([...out.extra].map(([name, t]) => [name, t.data])));
      if (past < length - 1) rows.forEach((r, b) => r.push(sampleToken(out.logits.subarray(b * V, (b + 1) * V), { temperature: opts.temperature ?? 1 }, rng)));
      onProgress?.(Math.min(past + 2, length), length);
    }
  } finally {
    await session.release();
  }
  return rows;
}
