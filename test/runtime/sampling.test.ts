// Sampling: seeded reproducibility, greedy, temperature, top-k and top-p supports, HF repetition penalty; streaming text and stop strings.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { StopMatcher, TextStream } from '../../src/runtime/generate.js';
import { applyRepetitionPenalty, createRng, greedyToken, sampleToken, samplingDistribution } from '../../src/runtime/sampling.js';
import { GPT2_DIR } from '../helpers.js';

/** logits = log(probs): softmax gives back these probabilities. */
const fromProbs = (probs: readonly number[]) => Float32Array.from(probs, Math.log);
const P = [0.05, 0.4, 0.25, 0.15, 0.1, 0.05];
const draws = (n: number, logits: Float32Array, opts: Parameters<typeof sampleToken>[1], seed = 1) => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => sampleToken(logits, opts, rng));
};

describe('createRng', () => {
  it('gives the same stream for the same seed and another for another seed, uniform in [0, 1)', () => {
    const a = createRng(7), b = createRng(7), c = createRng(8);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 10 }, () => c())).not.toEqual(xs.slice(0, 10));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
  });
});

describe('sampleToken', () => {
  it('is greedy at temperature 0 (the argmax; the lowest id on a tie), whatever top-k/top-p say', () => {
    expect(greedyToken(fromProbs(P))).toBe(1);
    expect(greedyToken(Float32Array.from([1, 3, 3, 2]))).toBe(1);
    expect(draws(20, fromProbs(P), { temperature: 0, topK: 3, topP: 0.5 })).toEqual(Array(20).fill(1));
  });

  it('reproduces the same draws for the same seed, and follows the distribution', () => {
    const logits = fromProbs(P);
    const xs = draws(20_000, logits, { temperature: 1 }, 42);
    expect(draws(20_000, logits, { temperature: 1 }, 42)).toEqual(xs);
    expect(draws(200, logits, { temperature: 1 }, 43)).not.toEqual(xs.slice(0, 200));
    P.forEach((p, id) => expect(Math.abs(xs.filter((x) => x === id).length / xs.length - p)).toBeLessThan(0.015));
  });

  it('draws from the given vocabulary only, whatever larger one was drawn from before (a plain inverse-CDF reference)', () => {
    const reference = (logits: Float32Array, rng: () => number) => {
      const top = Math.max(...logits);
      const w = Array.from(logits, (x) => Math.exp(x - top));
      let u = rng() * w.reduce((a, b) => a + b, 0);
      for (let i = 0; i < w.length; i++) if ((u -= w[i]!) < 0) return i;
      return w.length - 1;
    };
    const wide = Float32Array.from({ length: 5000 }, (_, i) => (i % 13) / 4);
    const rng = createRng(7), ref = createRng(7);
    for (let n = 0; n < 200; n++) {
      const logits = n % 2 === 0 ? wide : fromProbs(P);
      expect(sampleToken(logits, { temperature: 1 }, rng)).toBe(reference(logits, ref));
    }
  });

  it('sharpens with a lower temperature and flattens with a higher one: p ∝ p₀^(1/T)', () => {
    const logits = fromProbs(P);
    for (const T of [0.5, 2]) {
      const { ids, probs } = samplingDistribution(logits, { temperature: T });
      const z = P.reduce((s, p) => s + p ** (1 / T), 0);
      ids.forEach((id, i) => expect(probs[i]).toBeCloseTo(P[id]! ** (1 / T) / z, 6));
    }
  });

  it('top-k keeps only the k most likely tokens (and ties at the k-th value, as HF)', () => {
    const logits = fromProbs(P);
    expect(new Set(samplingDistribution(logits, { topK: 2 }).ids)).toEqual(new Set([1, 2]));
    expect(new Set(draws(5000, logits, { temperature: 1, topK: 3 }))).toEqual(new Set([1, 2, 3]));
    expect(new Set(samplingDistribution(Float32Array.from([5, 1, 3, 3, 0]), { topK: 2 }).ids)).toEqual(new Set([0, 2, 3]));
    const { probs } = samplingDistribution(logits, { topK: 2 });
    expect(probs[0]).toBeCloseTo(0.4 / 0.65, 6);
  });

  it('top-p keeps the smallest most-likely set whose mass reaches p', () => {
    const logits = fromProbs(P); // sorted: 0.4, 0.25, 0.15, 0.1, 0.05, 0.05
    expect(new Set(samplingDistribution(logits, { topP: 0.3 }).ids)).toEqual(new Set([1]));
    expect(new Set(samplingDistribution(logits, { topP: 0.6 }).ids)).toEqual(new Set([1, 2]));
    expect(new Set(samplingDistribution(logits, { topP: 0.7 }).ids)).toEqual(new Set([1, 2, 3]));
    expect(new Set(samplingDistribution(logits, { topP: 0.85 }).ids)).toEqual(new Set([1, 2, 3, 4]));
    expect(new Set(draws(5000, logits, { temperature: 1, topP: 0.7 }))).toEqual(new Set([1, 2, 3]));
    // top-k first, then top-p over what is left (HF's order).
    expect(new Set(samplingDistribution(logits, { topK: 2, topP: 0.9 }).ids)).toEqual(new Set([1, 2]));
  });

  it('matches a plain sort-everything reference of top-k then top-p on random logits with ties', () => {
    const rng = createRng(3);
    const reference = (logits: Float32Array, k: number, p: number, T: number) => {
      let order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
      if (k > 0 && k < order.length) order = order.filter((id) => logits[id]! >= logits[order[k - 1]!]!);
      const w = order.map((id) => Math.exp((logits[id]! - logits[order[0]!]!) / T));
      const total = w.reduce((a, b) => a + b, 0);
      let keep = 0;
      for (let mass = 0; keep < order.length && mass < p * total;) mass += w[keep++]!;
      return order.slice(0, Math.max(1, keep));
    };
    for (let trial = 0; trial < 200; trial++) {
      const V = 5 + Math.floor(rng() * 60);
      const logits = Float32Array.from({ length: V }, () => Math.round(rng() * 12) / 2); // coarse values: many ties
      const k = Math.floor(rng() * (V + 2));
      const p = [1, 0.95, 0.7, 0.3, 0.05][trial % 5]!;
      const T = [1, 0.5, 2][trial % 3]!;
      expect(samplingDistribution(logits, { temperature: T, topK: k, topP: p }).ids).toEqual(reference(logits, k, p, T));
    }
  });

  it('applies the repetition penalty as HF: positive logits divided, negative multiplied, unseen tokens untouched', () => {
    const logits = Float32Array.from([2, -2, 4, -1, 0.5]);
    expect(Array.from(applyRepetitionPenalty(logits, [0, 1, 1], 2))).toEqual([1, -4, 4, -1, 0.5]);
    expect(Array.from(applyRepetitionPenalty(logits, [0, 1], 1))).toEqual(Array.from(logits));
    expect(Array.from(logits)).toEqual([2, -2, 4, -1, 0.5]); // a copy: the input stays
    expect(greedyToken(Float32Array.from([3, 2.5]), [0], 1.5)).toBe(1); // 3/1.5 = 2 < 2.5
    expect(greedyToken(Float32Array.from([3, 2.5]), [0], 1.1)).toBe(0); // 3/1.1 > 2.5
  });
});

describe('streaming text', () => {
  let tok: Tokenizer;
  beforeAll(async () => { tok = await loadTokenizer(GPT2_DIR); });

  it('holds back the bytes of an incomplete UTF-8 character until it is whole', () => {
    const stream = new TextStream(tok);
    const ids = Array.from(Buffer.from('aé€b'));
    expect(ids.map((id) => stream.push(id))).toEqual(['a', '', 'é', '', '', '€', 'b']);
  });

  it('never emits any part of a stop string, across chunk boundaries', () => {
    const m = new StopMatcher(['\nUser:', 'END']);
    expect(m.push('Hello\nUs')).toEqual({ emit: 'Hello', stopped: false });
    expect(m.push('ually')).toEqual({ emit: '\nUsually', stopped: false });
    expect(m.push(' E')).toEqual({ emit: ' ', stopped: false });
    expect(m.push('N')).toEqual({ emit: '', stopped: false });
    expect(m.push('D and more')).toEqual({ emit: '', stopped: true });
    const n = new StopMatcher(['ab']);
    expect(n.push('xxa')).toEqual({ emit: 'xx', stopped: false });
    expect(n.flush()).toBe('a');
    expect(new StopMatcher(['stop']).push('go stop here')).toEqual({ emit: 'go ', stopped: true });
  });
});
