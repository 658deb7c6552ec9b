// Integer synapses at real sizes: a vocabulary-wide LM head (151 936 outputs, Qwen2.5's vocabulary) quantizes.
import { describe, expect, it } from 'vitest';
import { quantizeSynapse } from '../../src/ops/synapse.js';

describe('quantizeSynapse', () => {
  it('quantizes a head with 151 936 output channels (the bound is taken without spreading them as arguments)', () => {
    const O = 151_936;
    const weight = Float32Array.from({ length: 2 * O }, (_, i) => ((i % 7) - 3) / 3);
    const q = quantizeSynapse({ weight, transposed: false, inFeatures: 2, outFeatures: O, unit: Float32Array.of(1, 1), maxCount: 85 });
    expect(q).not.toBeNull();
    // Every channel's largest |w| maps to the top code 2^(bits−1) − 1; two inputs: Σ|w| ≤ 2·top, bound = that × M_T.
    const top = 2 ** (q!.bits - 1) - 1;
    expect(q!.bits).toBe(12);
    expect(q!.bound).toBe(2 * top * 85);
  });
});
