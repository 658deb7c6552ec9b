// Check: each conversation's mask grows by exactly its new tokens, and padded rows compute what unpadded rows do.
import { createRng, type Rng } from '../runtime/sampling.js';
import { KEY_ALIGNMENT } from '../runtime/batch.js';
import type { ModelSession, StepInput } from '../runtime/session.js';
import type { ModelSpec } from '../ir/types.js';
import { maxAbsDiff } from './reference.js';
import { round, Verdict } from './result.js';
import type { DialoguesRun } from './run-dialogues.js';
import type { CheckResult } from './types.js';

/**
 * Structure, from the recorded session inputs: turn t of a conversation attends to exactly the keys
 * turn t − 1 attended plus its own S new tokens (cached keys = past), its tokens sit in one contiguous
 * run, and nothing else is unmasked. Numbers, straight on the session: rows left-padded with random
 * tokens (and a cache padded with random K/V), all masked, give the logits of the unpadded rows.
 */
export async function checkAttentionMask(run: DialoguesRun, session: ModelSession, histories: readonly (readonly number[])[], tolerance: number): Promise<CheckResult> {
  const v = new Verdict('attention-mask');
  if (run.error !== null) v.fail(run.error);
  let rows = 0;
  let paddedRows = 0;
  for (const d of run.dialogues) {
    let attended = 0;
    for (const [t, turn] of d.turns.entries()) {
      const fed = turn.fed;
      const where = `conversation ${d.id} turn ${t}`;
      if (!v.expect(fed !== undefined, () => `${where}: no session row fed its ${turn.tokens.length} tokens, so its mask cannot be read`)) break;
      const now = fed!.cachedKeys + fed!.newKeys;
      v.expect(now === attended + turn.tokens.length, () => `${where}: the mask attends to ${now} keys (${fed!.cachedKeys} cached + ${fed!.newKeys} new), expected ${attended} + ${turn.tokens.length} new = ${attended + turn.tokens.length}`);
      v.expect(fed!.contiguous, () => `${where}: the unmasked query slots are not contiguous (padding inside the row)`);
      attended = now;
      rows += 1;
      if (fed!.padded) paddedRows += 1;
    }
  }
  const padding = await probePadding(session, histories, tolerance, v);
  return v.finish(
    `in ${rows} fed rows (${paddedRows} of them padded in their batch) the mask grew by exactly the new tokens; left-padded rows and a padded cache (random tokens and K/V, masked) matched the unpadded computation within ${tolerance} (max |Δlogit| ${padding.prefill.toExponential(2)} prefill, ${padding.decode.toExponential(2)} decode)`,
    { rows, padded_rows: paddedRows, padding_slots: KEY_ALIGNMENT, padded_prefill_max_abs_logit_diff: round(padding.prefill), padded_cache_max_abs_logit_diff: round(padding.decode), tolerance },
  );
}

/**
 * Two histories of different lengths in one batch, each behind KEY_ALIGNMENT masked slots of random
 * tokens at random positions (a whole alignment block, so real keys keep their reduction lanes and an
 * exact model matches bit for bit); then the first history's second half decoded over a cache whose
 * masked slots hold random K/V. Either is compared with the same rows run alone, unpadded.
 */
async function probePadding(session: ModelSession, histories: readonly (readonly number[])[], tolerance: number, v: Verdict): Promise<{ prefill: number; decode: number }> {
  const spec = session.spec;
  const rng = createRng(1234);
  const V = spec.vocabSize;
  const pad = KEY_ALIGNMENT;
  const rows = histories.slice(0, 2);
  const seq = pad + Math.max(...rows.map((r) => r.length));
  const input: StepInput = { batch: rows.length, seq, past: 0, cache: [], ids: new BigInt64Array(rows.length * seq), mask: new BigInt64Array(rows.length * seq), positions: new BigInt64Array(rows.length * seq) };
  rows.forEach((row, b) => {
    for (let j = 0; j < seq; j++) {
      const k = j - pad;
      const real = k >= 0 && k < row.length;
      input.ids[b * seq + j] = BigInt(real ? row[k]! : randInt(rng, V));
      input.positions[b * seq + j] = BigInt(real ? k : randInt(rng, spec.maxPositions));
      input.mask[b * seq + j] = real ? 1n : 0n;
    }
  });
  const padded = (await session.run(input)).logits;
  let prefill = 0;
  for (const [b, row] of rows.entries()) {
    const alone = (await session.run(plainStep(row, 0, []))).logits;
    const diff = maxAbsDiff(padded.subarray((b * seq + pad) * V, (b * seq + pad + row.length) * V), alone);
    prefill = Math.max(prefill, diff);
    v.expect(diff <= tolerance, () => `a row of ${row.length} tokens behind ${pad} masked padding slots (batched with a row of ${rows[1 - b]?.length ?? 0}) differs from the unpadded row by max |Δlogit| ${diff.toExponential(2)} > ${tolerance}: padding was attended`);
  }
  const decode = await probePaddedCache(session, rows[0]!, rng, tolerance, v);
  return { prefill, decode };
}

/** The history's first half cached, then its second half fed over that cache, with and without masked random K/V slots after the cache. */
async function probePaddedCache(session: ModelSession, history: readonly number[], rng: Rng, tolerance: number, v: Verdict): Promise<number> {
  const spec = session.spec;
  const pad = KEY_ALIGNMENT;
  const p = Math.floor(history.length / 2);
  const head = history.slice(0, p);
  const tail = history.slice(p);
  const cache = (await session.run(plainStep(head, 0, []))).present;
  const alone = (await session.run(plainStep(tail, p, cache))).logits;
  const paddedCache = cache.map((kv) => padCache(spec, kv, p, pad, rng));
  const step = plainStep(tail, p, paddedCache);
  const mask = new BigInt64Array(p + pad + tail.length).fill(1n);
  mask.fill(0n, p, p + pad);
  const padded = (await session.run({ ...step, past: p + pad, mask })).logits;
  const diff = maxAbsDiff(padded, alone);
  v.expect(diff <= tolerance, () => `${tail.length} tokens decoded over a ${p}-token cache followed by ${pad} masked slots of random K/V differ from the unpadded decode by max |Δlogit| ${diff.toExponential(2)} > ${tolerance}: padding was attended`);
  return diff;
}

/** One row, no padding: `ids` at positions past…, attending to `past` cached keys. */
function plainStep(ids: readonly number[], past: number, cache: readonly Float32Array[]): StepInput {
  return {
    batch: 1,
    seq: ids.length,
    ids: BigInt64Array.from(ids, BigInt),
    mask: new BigInt64Array(past + ids.length).fill(1n),
    positions: BigInt64Array.from(ids, (_, i) => BigInt(past + i)),
    past,
    cache,
  };
}

/** [1, kvHeads, c, headDim] → [1, kvHeads, c + pad, headDim], the extra slots random in [−8, 8). */
function padCache(spec: ModelSpec, kv: Float32Array, c: number, pad: number, rng: Rng): Float32Array {
  const { numKvHeads: H, headDim: D } = spec;
  const out = new Float32Array(H * (c + pad) * D);
  for (let h = 0; h < H; h++) {
    out.set(kv.subarray(h * c * D, (h + 1) * c * D), h * (c + pad) * D);
    for (let i = (h * (c + pad) + c) * D; i < (h + 1) * (c + pad) * D; i++) out[i] = 16 * rng() - 8;
  }
  return out;
}

function randInt(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}
