// Reference computations straight on a model session (never through the processor under test), and NLL from logits.
import type { ModelSession, StepInput } from '../runtime/session.js';

/** One unpadded, uncached forward of `ids` from position 0: logits [ids.length, vocab]. */
export async function fullForward(session: ModelSession, ids: readonly number[]): Promise<Float32Array> {
  const n = ids.length;
  const input: StepInput = {
    batch: 1,
    seq: n,
    ids: BigInt64Array.from(ids, BigInt),
    mask: new BigInt64Array(n).fill(1n),
    positions: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)),
    past: 0,
    cache: [],
  };
  return (await session.run(input)).logits;
}

/** −log p(target) under the softmax of logits row `row` (float64 log-sum-exp). */
export function tokenNll(logits: Float32Array, row: number, vocab: number, target: number): number {
  const off = row * vocab;
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[off + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[off + v]! - max);
  return max + Math.log(sum) - logits[off + target]!;
}

/** Mean NLL of `tokens[from…]` (from ≥ 1), where row k − 1 of `logits` (one row per token) predicts token k. */
export function meanNll(logits: Float32Array, tokens: readonly number[], from: number, vocab: number): number {
  let total = 0;
  for (let k = Math.max(from, 1); k < tokens.length; k++) total += tokenNll(logits, k - 1, vocab, tokens[k]!);
  return total / (tokens.length - Math.max(from, 1));
}

/** Largest |a − b| over two equal-length arrays (Infinity when the lengths differ, NaN counted as a difference). */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
