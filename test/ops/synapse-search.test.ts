// The synapse quantizer searches bit widths with a bracket on Σ|w| and folds a Linear once per plan; it must pick
// exactly what the definition picks: the most bits, from 12 down, whose max_j Σ_k |round(W·u/s_j)| · M < 2^24.
import { describe, expect, it } from 'vitest';
import { EXACT_FLOAT_INTEGER, planSynapse, quantizeSynapse, synapseWeights, type SynapseInput } from '../../src/ops/synapse.js';
import { mulberry32 } from '../../src/util/random.js';

/** The definition, written out plainly: fold, then try every width from 12 down and round everything each time. */
function definition(s: SynapseInput): { weights: number[]; scale: Float32Array; bits: number; bound: number } | null {
  const { inFeatures: I, outFeatures: O } = s;
  const folded = new Float32Array(I * O);
  for (let k = 0; k < I; k++) for (let j = 0; j < O; j++) folded[k * O + j] = (s.transposed ? s.weight[j * I + k]! : s.weight[k * O + j]!) * s.unit[k]!;
  const peak = new Float32Array(O);
  for (let i = 0; i < folded.length; i++) peak[i % O] = Math.max(peak[i % O]!, Math.abs(folded[i]!));
  for (let bits = 12; bits >= 6; bits--) {
    const top = 2 ** (bits - 1) - 1;
    const scale = Float32Array.from(peak, (p) => (p > 0 ? p / top : 1));
    const weights = Array.from(folded, (f, i) => Math.round(f / scale[i % O]!) || 0); // stored as integers: no −0
    const rowSum = new Array<number>(O).fill(0);
    weights.forEach((w, i) => { rowSum[i % O]! += Math.abs(w); });
    const bound = Math.max(...rowSum) * s.maxCount;
    if (bound < EXACT_FLOAT_INTEGER) return { weights, scale, bits, bound };
  }
  return null;
}

function randomLinear(seed: number, I: number, O: number, transposed: boolean): Omit<SynapseInput, 'maxCount'> {
  const rng = mulberry32(seed);
  // Heavy-tailed weights (a few large entries per output) and units spread over two decades, like calibrated θ/M.
  const weight = Float32Array.from({ length: I * O }, () => (rng() - 0.5) * (rng() < 0.02 ? 20 : 1));
  const unit = Float32Array.from({ length: I }, () => 0.01 + rng() * rng());
  return { weight, transposed, inFeatures: I, outFeatures: O, unit };
}

describe('synapse bit search', () => {
  it('picks the same width, integers, scales and bound as the definition, across the 2^24 limit', () => {
    let straddled = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const I = 64 + 37 * (seed % 5), O = 23 + 11 * (seed % 3);
      const base = randomLinear(seed, I, O, seed % 2 === 0);
      // Counts chosen around the limit of 10, 9 and 8 bits so the bracket is undecided at some widths.
      for (const maxCount of [1, 15, 85, 170, 341, 1365, 2 ** 14, 2 ** 17, 2 ** 20]) {
        const want = definition({ ...base, maxCount });
        const got = quantizeSynapse({ ...base, maxCount });
        if (want === null) { expect(got).toBeNull(); continue; }
        expect(got).not.toBeNull();
        expect(got!.bits).toBe(want.bits);
        expect(got!.bound).toBe(want.bound);
        expect(Array.from(got!.scale)).toEqual(Array.from(want.scale));
        expect(Array.from(synapseWeights(got!))).toEqual(want.weights);
        // Stored as 6-bit planes within ±63: one when the width allows, else low ∈ [0, 63] and high.
        expect(got!.planes.length).toBe(want.bits <= 7 ? 1 : 2);
        for (const plane of got!.planes) expect(plane.every((v) => Math.abs(v) <= 63)).toBe(true);
        if (got!.planes.length === 2) expect(got!.planes[0]!.every((v) => v >= 0)).toBe(true);
        if (want.bits < 12 && want.bound > EXACT_FLOAT_INTEGER / 2) straddled++;
      }
    }
    expect(straddled).toBeGreaterThan(5); // the comparison did reach widths near the limit
  });

  it('a bound exactly at 2^24 is refused, one below is taken', () => {
    // One input, one output, unit 1: |w| = top at every width; bound = top · M.
    const base = { weight: Float32Array.of(1), transposed: false, inFeatures: 1, outFeatures: 1, unit: Float32Array.of(1) };
    const top12 = 2047;
    expect(quantizeSynapse({ ...base, maxCount: EXACT_FLOAT_INTEGER / top12 })!.bits).toBe(11); // 2047·M = 2^24 exactly: not < 2^24
    expect(quantizeSynapse({ ...base, maxCount: Math.floor((EXACT_FLOAT_INTEGER - 1) / top12) })!.bits).toBe(12);
  });

  it('decides by the rounded sums where they and the unrounded sums fall on two sides of the limit', () => {
    // Per output: one weight at the peak, the rest at 0.4 (rounds down) or 0.6 (rounds up) of a 12-bit step,
    // so Σ|W·u|/s misses Σ|w| by ±0.4 per input: a search on the unrounded sums alone would choose wrongly.
    for (const fraction of [0.4, 0.6]) {
      const I = 400, O = 3;
      const weight = Float32Array.from({ length: I * O }, (_, i) => (i % I === 0 ? 1 : fraction / 2047));
      const base = { weight, transposed: true, inFeatures: I, outFeatures: O, unit: new Float32Array(I).fill(1) };
      const rowSum12 = definition({ ...base, maxCount: 1 })!.bound; // 12 bits pass at M = 1: bound = max_j Σ|w|
      const atLimit = fraction < 0.5 ? Math.floor((EXACT_FLOAT_INTEGER - 1) / rowSum12) : Math.ceil(EXACT_FLOAT_INTEGER / rowSum12);
      const want = definition({ ...base, maxCount: atLimit })!;
      expect(want.bits).toBe(fraction < 0.5 ? 12 : 11);
      expect(quantizeSynapse({ ...base, maxCount: atLimit })!.bits).toBe(want.bits);
    }
  });

  it('plans the count split as the definition does: the fewest parts giving ≥ 10-bit weights, else the most bits', () => {
    for (const [seed, maxCount] of [[3, 170], [4, 5461], [5, 87381], [6, 1]] as const) {
      const base = randomLinear(seed, 512, 48, seed % 2 === 1);
      const bitsNeeded = Math.ceil(Math.log2(maxCount + 1));
      let want: { bits: number; groups: number; chunkBits: number; bound: number } | null = null;
      for (let groups = 1; groups <= 4; groups++) {
        const chunkBits = Math.ceil(bitsNeeded / groups);
        const d = definition({ ...base, maxCount: groups === 1 ? maxCount : 2 ** chunkBits - 1 });
        if (d && (!want || d.bits > want.bits)) want = { bits: d.bits, groups, chunkBits, bound: d.bound };
        if (d && d.bits >= 10) break;
      }
      const got = planSynapse(base, maxCount);
      expect(got && { bits: got.synapse.bits, groups: got.groups, chunkBits: got.chunkBits, bound: got.synapse.bound }).toEqual(want);
    }
  });
});
