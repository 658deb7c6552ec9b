// Perplexity windows (docs/design.md §6): `window` tokens every `stride` tokens, incomplete windows dropped.
import { SnnError } from '../errors/index.js';
import type { StepInput } from './session.js';

/** Start offsets of the complete windows over `n` tokens. */
export function windowStarts(n: number, window: number, stride: number): number[] {
  if (!Number.isInteger(window) || window < 2) throw new SnnError('OPTION_INVALID', { message: `--window must be an integer ≥ 2, got ${window}`, at: '--window' });
  if (!Number.isInteger(stride) || stride < 1) throw new SnnError('OPTION_INVALID', { message: `--stride must be a positive integer, got ${stride}`, at: '--stride' });
  if (n < window) throw new SnnError('TEXT_INVALID', { message: `the text has ${n} tokens, fewer than one window of ${window}`, at: 'text', hint: 'give a longer text or a smaller --window' });
  return Array.from({ length: Math.floor((n - window) / stride) + 1 }, (_, i) => i * stride);
}

/** Equal-length rows of ids as one uncached forward input (positions 0..S−1, full mask). */
export function rowsInput(rows: readonly (readonly number[])[]): StepInput {
  return rowsChunkInput(rows, 0, rows[0]?.length ?? 0, []);
}

/** Tokens [from, to) of every row (rows of one length) on top of `cache`, their K/V over [0, from). */
export function rowsChunkInput(rows: readonly (readonly number[])[], from: number, to: number, cache: StepInput['cache']): StepInput {
  const batch = rows.length;
  const seq = to - from;
  const ids = new BigInt64Array(batch * seq);
  const positions = new BigInt64Array(batch * seq);
  rows.forEach((row, r) => { for (let j = 0; j < seq; j++) { ids[r * seq + j] = BigInt(row[from + j]!); positions[r * seq + j] = BigInt(from + j); } });
  return { batch, seq, ids, mask: new BigInt64Array(batch * to).fill(1n), positions, past: from, cache };
}

/** A batch of windows of `ids` starting at `starts`, as one uncached forward input. */
export function windowInput(ids: readonly number[], starts: readonly number[], window: number): StepInput {
  return rowsInput(starts.map((s) => ids.slice(s, s + window)));
}

/** log-softmax of one row of logits, in float64. */
export function logSoftmaxRow(logits: Float32Array, offset: number, vocab: number, out: Float64Array): void {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v]! - max);
  const lse = max + Math.log(sum);
  for (let v = 0; v < vocab; v++) out[v] = logits[offset + v]! - lse;
}
