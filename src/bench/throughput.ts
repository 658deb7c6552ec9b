// Timed forward passes: prefill (S tokens, no cache) and decode (1 token per call on the previous call's KV cache).
import { disposeUnused, type KvBlock } from '../runtime/device-kv.js';
import type { ModelSession, StepInput } from '../runtime/session.js';
import { windowInput } from '../runtime/windows.js';
import type { RssSampler } from './rss-sampler.js';

export interface TimedRun {
  /** Median seconds of the timed repetitions. */
  readonly seconds: number;
  readonly tokensPerSecond: number;
  readonly repetitions: number;
  readonly rssBeforeBytes: number;
  /** Peak process RSS sampled during the timed runs. */
  readonly rssPeakBytes: number;
}

export interface RepeatOptions {
  /** Timed repetitions at most (default 3); at least one always runs. */
  readonly reps?: number;
  /** Stop repeating once the timed runs took this long (default 10 s). */
  readonly budgetSeconds?: number;
  readonly sampler: RssSampler;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `once` (which returns its own timed seconds) up to `reps` times within the budget; median seconds. */
async function repeat(tokens: number, opts: RepeatOptions, once: () => Promise<number>): Promise<TimedRun> {
  const reps = opts.reps ?? 3;
  const budget = opts.budgetSeconds ?? 10;
  const before = opts.sampler.begin();
  const times: number[] = [];
  let spent = 0;
  while (times.length < Math.max(1, reps) && (times.length === 0 || spent < budget)) {
    const s = await once();
    times.push(s);
    spent += s;
  }
  const seconds = median(times);
  return { seconds, tokensPerSecond: tokens / seconds, repetitions: times.length, rssBeforeBytes: before, rssPeakBytes: opts.sampler.end() };
}

/** Prefill: one uncached forward of the first `seq` ids (batch 1). */
export async function timePrefill(session: ModelSession, ids: readonly number[], seq: number, opts: RepeatOptions): Promise<TimedRun> {
  const input = windowInput(ids, [0], seq);
  return repeat(seq, opts, async () => {
    const t0 = performance.now();
    await session.run(input);
    return (performance.now() - t0) / 1000;
  });
}

/** One new token at position `past`, on top of `cache` (per layer K then V, [1, KVH, past, hd]). */
export function decodeInput(id: number, past: number, cache: readonly KvBlock[]): StepInput {
  return {
    batch: 1, seq: 1, ids: BigInt64Array.of(BigInt(id)), positions: BigInt64Array.of(BigInt(past)),
    mask: new BigInt64Array(past + 1).fill(1n), past, cache,
  };
}

/**
 * Decode: prefill `context − steps` ids (untimed), then `steps` calls of one token each, every call
 * fed the present K/V of the call before (kept on the device where the session's device allows); the
 * timed part is the `steps` decode calls, ending at `context` tokens.
 */
export async function timeDecode(session: ModelSession, ids: readonly number[], context: number, steps: number, opts: RepeatOptions): Promise<TimedRun> {
  const prompt = context - steps;
  const primed = (await session.run(windowInput(ids, [0], prompt), [], { keepKv: true })).present;
  try {
    return await repeat(steps, opts, async () => {
      let cache = primed;
      let seconds = 0;
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        const out = await session.run(decodeInput(ids[prompt + i]!, prompt + i, cache), [], { keepKv: true });
        seconds += (performance.now() - t0) / 1000;
        disposeUnused(cache, primed);
        cache = out.present;
      }
      disposeUnused(cache, primed);
      return seconds;
    });
  } finally {
    disposeUnused(primed, []);
  }
}

/** Requested lengths capped at the context, merged when they cap to the same length; ascending. */
export function capLengths(requested: readonly number[], context: number): { seq: number; requested: number[]; capped: boolean }[] {
  const bySeq = new Map<number, number[]>();
  for (const r of [...requested].sort((a, b) => a - b)) {
    const seq = Math.min(r, context);
    bySeq.set(seq, [...(bySeq.get(seq) ?? []), r]);
  }
  return [...bySeq.entries()].map(([seq, reqs]) => ({ seq, requested: reqs, capped: reqs.some((r) => r > seq) }));
}
