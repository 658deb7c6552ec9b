// Next-token choice from one row of logits: greedy, temperature, top-k, top-p, repetition penalty, seeded PRNG.
import { SnnError } from '../errors/index.js';
import { mulberry32 } from '../util/random.js';

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
  return mulberry32(seed);
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
  const ids = support(scores, opts.topK ?? 0, opts.topP ?? 1, temperature).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const top = scores[ids[0]!]!;
  const weights = ids.map((id) => Math.exp((scores[id]! - top) / temperature));
  const total = weights.reduce((sum, w) => sum + w, 0);
  return { ids, probs: weights.map((w) => w / total) };
}

/**
 * The ids kept by top-k (ties at the k-th value kept, as HF) then top-p (the most likely tokens until
 * their mass reaches p of what top-k kept; ties at the edge broken by lower id). Works on a native
 * sort of the values, so a 50k vocabulary costs milliseconds.
 */
function support(scores: Float32Array, k: number, p: number, temperature: number): number[] {
  const V = scores.length;
  if ((k <= 0 || k >= V) && p >= 1) return Array.from(scores.keys());
  const sorted = Float32Array.from(scores).sort().reverse();
  let n = V;
  if (k > 0 && k < V) {
    n = k;
    while (n < V && sorted[n]! >= sorted[k - 1]!) n++;
  }
  let keep = n;
  if (p < 1) {
    const top = sorted[0]!;
    let total = 0;
    for (let i = 0; i < n; i++) total += Math.exp((sorted[i]! - top) / temperature);
    let mass = 0;
    keep = 0;
    while (keep < n && mass < p * total) mass += Math.exp((sorted[keep++]! - top) / temperature);
    keep = Math.max(1, keep);
  }
  const edge = sorted[keep - 1]!;
  let atEdge = keep - sorted.subarray(0, keep).filter((x) => x > edge).length; // how many ties at the edge value fit
  const ids: number[] = [];
  for (let id = 0; id < V; id++) {
    const x = scores[id]!;
    if (x > edge) ids.push(id);
    else if (x === edge && atEdge > 0) { ids.push(id); atEdge--; }
  }
  return ids;
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
  const temperature = opts.temperature ?? 0;
  if (temperature === 0) return greedyToken(logits, seen, opts.repetitionPenalty ?? 1);
  if ((opts.topK ?? 0) === 0 && (opts.topP ?? 1) === 1) {
    const penalty = opts.repetitionPenalty ?? 1;
    return drawAll(penalty === 1 ? logits : applyRepetitionPenalty(logits, seen, penalty), temperature, rng); // drawAll only reads
  }
  const { ids, probs } = samplingDistribution(logits, opts, seen);
  let u = rng();
  for (let i = 0; i < ids.length; i++) {
    u -= probs[i]!;
    if (u < 0) return ids[i]!;
  }
  return ids[ids.length - 1]!; // rounding left a sliver of mass
}

/** drawAll's scratch: a vocabulary of float64 weights, reused by every draw (sampling calibration text draws ~16 000). */
let drawWeights = new Float64Array(0);

/** One draw from softmax(scores / temperature) over the whole vocabulary, in id order (no sort needed). */
function drawAll(scores: Float32Array, temperature: number, rng: Rng): number {
  let top = -Infinity;
  for (const x of scores) if (x > top) top = x;
  if (drawWeights.length < scores.length) drawWeights = new Float64Array(scores.length);
  const weights = drawWeights;
  let total = 0;
  for (let i = 0; i < scores.length; i++) total += weights[i] = Math.exp((scores[i]! - top) / temperature);
  let u = rng() * total;
  for (let i = 0; i < scores.length; i++) {
    u -= weights[i]!;
    if (u < 0) return i;
  }
  return scores.length - 1;
}
