// Next-token choice from one row of logits: greedy, temperature, top-k, top-p, repetition penalty, seeded PRNG.
import { SnnError } from '../errors/index.js';

/** How to pick the next token. Defaults: greedy, no penalty. */
export interface SamplingOptions {
  /** 0 (default) = greedy (argmax); > 0 divides the logits before softmax. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens (ties at the k-th value kept, as in HF); 0 or absent = off. */
  readonly topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (nucleus); 1 or absent = off. */
  readonly topP?: number;
  /** HF semantics (CTRL, Keskar et al. 2019): a seen token's logit is divided by it when positive, multiplied when negative; 1 = off. */
  readonly repetitionPenalty?: number;
}

/** A reproducible uniform [0, 1) generator. */
export type Rng = () => number;

/**
 * mulberry32: a small 32-bit PRNG; the same seed gives the same stream on every platform.
 * @example
 * const a = createRng(42), b = createRng(42);
 * a() === b(); // true
 */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Throws OPTION_INVALID for a sampling option out of its range. */
export function checkSamplingOptions(o: SamplingOptions & { readonly seed?: number }): void {
  const bad = (name: string, value: unknown, valid: string): never => {
    throw new SnnError('OPTION_INVALID', { message: `${name} must be ${valid}, got ${String(value)}`, at: name });
  };
  if (o.temperature !== undefined && !(Number.isFinite(o.temperature) && o.temperature >= 0)) bad('temperature', o.temperature, 'a number ≥ 0 (0 = greedy)');
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) bad('topK', o.topK, 'an integer ≥ 0 (0 = off)');
  if (o.topP !== undefined && !(Number.isFinite(o.topP) && o.topP > 0 && o.topP <= 1)) bad('topP', o.topP, 'in (0, 1] (1 = off)');
  if (o.repetitionPenalty !== undefined && !(Number.isFinite(o.repetitionPenalty) && o.repetitionPenalty > 0)) bad('repetitionPenalty', o.repetitionPenalty, 'a number > 0 (1 = off)');
  if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) bad('seed', o.seed, 'an integer');
}

/** A copy of `logits` with the repetition penalty applied to every token in `seen`. */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): Float32Array {
  const out = Float32Array.from(logits);
  if (penalty === 1) return out;
  for (const id of new Set(seen)) {
    const x = out[id];
    if (x === undefined) continue;
    out[id] = x > 0 ? x / penalty : x * penalty;
  }
  return out;
}

/** The tokens that can be drawn and their probabilities (sorted most likely first, summing to 1). */
export interface Distribution {
  readonly ids: readonly number[];
  readonly probs: readonly number[];
}

/**
 * What sampling draws from (temperature 0: the greedy token alone): penalty, then temperature, top-k, top-p — HF's order.
 * @example
 * samplingDistribution(logits, { temperature: 1, topK: 2 }).ids.length; // 2
 */
export function samplingDistribution(logits: Float32Array, opts: SamplingOptions, seen: Iterable<number> = []): Distribution {
  const temperature = opts.temperature ?? 1;
  if (temperature === 0) return { ids: [greedyToken(logits, seen, opts.repetitionPenalty ?? 1)], probs: [1] };
  const scores = applyRepetitionPenalty(logits, seen, opts.repetitionPenalty ?? 1);
  let order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const k = opts.topK ?? 0;
  if (k > 0 && k < order.length) {
    const kth = scores[order[k - 1]!]!;
    order = order.filter((id) => scores[id]! >= kth);
  }
  const top = scores[order[0]!]!;
  let weights = order.map((id) => Math.exp((scores[id]! - top) / temperature));
  let total = weights.reduce((s, w) => s + w, 0);
  const p = opts.topP ?? 1;
  if (p < 1) {
    // Keep a token while the mass of the tokens above it is still below p (at least one is kept).
    let mass = 0;
    let keep = 0;
    while (keep < order.length && mass < p * total) mass += weights[keep++]!;
    order = order.slice(0, Math.max(1, keep));
    weights = weights.slice(0, order.length);
    total = weights.reduce((s, w) => s + w, 0);
  }
  return { ids: order, probs: weights.map((w) => w / total) };
}

/** The greedy choice: argmax after the repetition penalty (the lowest id on a tie). */
export function greedyToken(logits: Float32Array, seen: Iterable<number> = [], repetitionPenalty = 1): number {
  const scores = applyRepetitionPenalty(logits, seen, repetitionPenalty);
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
  return best;
}

/** Picks the next token: greedy at temperature 0, else one draw from `samplingDistribution` with `rng`. */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, rng: Rng, seen: Iterable<number> = []): number {
  if ((opts.temperature ?? 0) === 0) return greedyToken(logits, seen, opts.repetitionPenalty ?? 1);
  const { ids, probs } = samplingDistribution(logits, opts, seen);
  let u = rng();
  for (let i = 0; i < ids.length; i++) {
    u -= probs[i]!;
    if (u < 0) return ids[i]!;
  }
  return ids[ids.length - 1]!; // rounding left a sliver of mass
}
