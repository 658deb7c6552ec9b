// Running one report window through a session in chunks over its KV cache, so memory is bounded by the chunk, not the window.
import type { ModelSession, StepInput, StepOutput } from '../runtime/session.js';

/**
 * Tokens per call when the report runs a window. Cached ≡ recomputed bit for bit (the runtime's
 * contract, tested in test/runtime/exact-state), so a window fed in chunks gives the logits and spikes
 * of the whole window at once, while a call holds logits and activations of `chunk` tokens only.
 */
export const REPORT_CHUNK = 128;

/** The input of tokens [past, past + ids.length) of one row on top of `cache` (batch 1). */
export function chunkInput(ids: readonly number[], past: number, cache: readonly Float32Array[]): StepInput {
  const seq = ids.length;
  return {
    batch: 1, seq, past, cache,
    ids: BigInt64Array.from(ids, (id) => BigInt(id)),
    positions: BigInt64Array.from({ length: seq }, (_, j) => BigInt(past + j)),
    mask: new BigInt64Array(past + seq).fill(1n),
  };
}

/**
 * Runs `ids` through `session` in chunks of `chunk` tokens, each call fed the present K/V of the one
 * before; `visit` gets each call's output with the chunk's first position and length, in order, and a
 * promise it returns settles before the next call. (Overlapping a visit that scores on worker threads
 * with the next call was slower on two cores: 5.0 s against 3.9 s for distilgpt2-shaped's T − 2 row.)
 */
export async function runInChunks(
  session: ModelSession,
  ids: readonly number[],
  opts: { readonly chunk?: number; readonly extra?: (start: number) => readonly string[] },
  visit: (out: StepOutput, start: number, length: number) => void | Promise<void>,
): Promise<void> {
  const chunk = Math.max(1, opts.chunk ?? REPORT_CHUNK);
  let cache: Float32Array[] = [];
  for (let start = 0; start < ids.length; start += chunk) {
    const part = ids.slice(start, start + chunk);
    const out = await session.run(chunkInput(part, start, cache), [...(opts.extra?.(start) ?? [])]);
    await visit(out, start, part.length);
    cache = out.present;
  }
}
