// Checks and normalizes forward() arguments (ids, mask, batch ids) into rows of real tokens, or throws INPUT_INVALID.
import { SnnError } from '../errors/index.js';

/** Token ids: one row (`number[]`) or a batch of rows (`number[][]`, rows may differ in length). */
export type InputIds = readonly number[] | readonly (readonly number[])[];

/** The rows of a forward call once checked. */
export interface ForwardRows {
  /** Per row, its real (unmasked) tokens in order. */
  readonly tokens: readonly (readonly number[])[];
  /** Per row, the index in the input row of each real token (to place results in the input's layout). */
  readonly slots: readonly (readonly number[])[];
  /** The input's [batch, seq]: seq is the longest row. */
  readonly dims: readonly [number, number];
}

const invalid = (message: string, at = 'forward'): SnnError => new SnnError('INPUT_INVALID', { message, at });

/** Lifts a single row to a batch of one. */
export function asRows(ids: InputIds): readonly (readonly number[])[] {
  if (!Array.isArray(ids)) throw invalid(`inputIds must be an array of token ids or of rows, got ${typeof ids}`, 'inputIds');
  if (ids.length === 0) throw invalid('inputIds is empty: an empty prompt has nothing to predict from', 'inputIds');
  const nested = ids.map((r: unknown) => Array.isArray(r));
  if (nested.every(Boolean)) return ids as readonly (readonly number[])[];
  if (nested.some(Boolean)) throw invalid('inputIds mixes token ids and rows: pass number[] or number[][]', 'inputIds');
  return [ids as readonly number[]];
}

/**
 * Checks every id against the vocabulary and the mask against the ids' shape; keeps mask-1 tokens.
 * @example
 * checkRows([[5, 6], [7, 8]], [[0, 1], [1, 1]], 257).tokens; // [[6], [7, 8]]
 */
export function checkRows(ids: InputIds, mask: InputIds | undefined, vocabSize: number): ForwardRows {
  const rows = asRows(ids);
  const masks = mask === undefined ? undefined : asRows(mask);
  if (masks && (masks.length !== rows.length || masks.some((m, r) => m.length !== rows[r]!.length))) {
    throw invalid(`attentionMask has shape ${shapeOf(masks)} but inputIds has shape ${shapeOf(rows)}: they must match`, 'attentionMask');
  }
  const tokens: number[][] = [];
  const slots: number[][] = [];
  rows.forEach((row, r) => {
    const kept: number[] = [];
    const at: number[] = [];
    row.forEach((id, k) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw invalid(`token id ${String(id)} at [${r}, ${k}] is outside the vocabulary [0, ${vocabSize})`, 'inputIds');
      }
      const m = masks?.[r]![k] ?? 1;
      if (m !== 0 && m !== 1) throw invalid(`attentionMask[${r}][${k}] is ${String(m)}: it must be 0 or 1`, 'attentionMask');
      if (m === 1) { kept.push(id); at.push(k); }
    });
    if (kept.length === 0) throw invalid(`row ${r} has no tokens${row.length > 0 ? ' left after the attention mask' : ''}: an empty prompt has nothing to predict from`, 'inputIds');
    tokens.push(kept);
    slots.push(at);
  });
  return { tokens, slots, dims: [rows.length, Math.max(...rows.map((r) => r.length))] };
}

/** Batch ids for `rows` rows: given ones checked (strings, unique, one per row), else "0", "1", … */
export function checkBatchIds(batchIds: readonly string[] | undefined, rows: number): readonly string[] {
  if (batchIds === undefined) return Array.from({ length: rows }, (_, i) => String(i));
  if (!Array.isArray(batchIds) || batchIds.length !== rows) {
    throw invalid(`batchIds has ${Array.isArray(batchIds) ? batchIds.length : 'no'} entries for ${rows} input rows: give one id per row`, 'batchIds');
  }
  const seen = new Set<string>();
  for (const id of batchIds) {
    if (typeof id !== 'string' || id.length === 0) throw invalid(`batch id ${JSON.stringify(id)} is not a non-empty string`, 'batchIds');
    if (seen.has(id)) throw invalid(`batch id ${JSON.stringify(id)} appears twice in one call: a conversation takes one row`, 'batchIds');
    seen.add(id);
  }
  return batchIds;
}

function shapeOf(rows: readonly (readonly number[])[]): string {
  const lengths = new Set(rows.map((r) => r.length));
  return lengths.size === 1 ? `[${rows.length}, ${rows[0]!.length}]` : `[${rows.length}, (${rows.map((r) => r.length).join(', ')})]`;
}
