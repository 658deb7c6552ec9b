// Data-free calibration: windows of text sampled from the source ANN itself, seeded and recorded.
import type { Graph } from '../ir/types.js';
import { createRng, sampleToken } from '../runtime/sampling.js';
import { openGraphSession } from '../open/graph-session.js';
import type { CalibrationData } from './data.js';

export interface ModelSampleOptions {
  readonly samples: number;
  readonly length: number;
  readonly seed: number;
  /** The first token of every row: the model's BOS (or EOS, GPT-2's document separator), else 0. */
  readonly start: number;
  /** Sampling temperature (default 1: the model's own distribution). */
  readonly temperature?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Samples `samples` rows of `length` tokens from the ANN, all rows in one batch through its KV cache,
 * each token drawn from the model's distribution with a seeded generator (so the same seed gives the
 * same windows). For a model whose domain is unknown this is text the model itself finds typical.
 */
export async function sampleFromModel(graph: Graph, opts: ModelSampleOptions): Promise<CalibrationData> {
  const { samples: B, length } = opts;
  const session = await openGraphSession(graph, 'ann', { lowMemory: true });
  const rng = createRng(opts.seed);
  const V = graph.spec.vocabSize;
  const rows = Array.from({ length: B }, () => [opts.start]);
  try {
    let cache: Float32Array[] = [];
    for (let past = 0; past < length - 1; past++) {
      const ids = BigInt64Array.from(rows, (r) => BigInt(r[past]!));
      const out = await session.run({ batch: B, seq: 1, ids, mask: new BigInt64Array(B * (past + 1)).fill(1n), positions: new BigInt64Array(B).fill(BigInt(past)), past, cache });
      cache = out.present;
      rows.forEach((r, b) => r.push(sampleToken(out.logits.subarray(b * V, (b + 1) * V), { temperature: opts.temperature ?? 1 }, rng)));
      opts.onProgress?.(past + 2, length);
    }
  } finally {
    await session.release();
  }
  return { samples: rows, text: `model-sampled (seed ${opts.seed}, temperature ${opts.temperature ?? 1})`, numSamples: B, maxLength: length };
}
