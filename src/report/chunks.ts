// Running one report window through a session in chunks over its KV cache, so memory is bounded by the chunk, not the window.
import type { ModelSession, StepOutput } from '../runtime/session.js';
import { rowsChunkInput } from '../runtime/windows.js';

/**
 * Tokens per call when the report runs a window. Cached ≡ recomputed bit for bit (the runtime's
 * contract, tested in test/runtime/exact-state), so a window fed in chunks gives the logits and spikes
 * of the whole window at once, while a call holds logits and activations of `chunk` tokens only.
 * A cost setting, chosen on SmolLM2-135M-shaped's report (seeded weights): its peak was 1.51 GB in chunks
 * of 128, 1.25 GB in chunks of 64 in the same time, and 1.17 GB in chunks of 32 at 12 % more time.
 */
export const REPORT_CHUNK = 64;

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
    const end = Math.min(ids.length, start + chunk);
    const out = await session.run(rowsChunkInput([ids], start, end, cache), [...(opts.extra?.(start) ?? [])]);
    await visit(out, start, end - start);
    cache = out.present;
  }
}
