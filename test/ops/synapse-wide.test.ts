// A Linear as wide as Qwen2's LM head (151 936 outputs) quantizes: the exactness bound is taken without spreading the rows.
import { describe, expect, it } from 'vitest';
import { quantizeSynapse, synapseWeights } from '../../src/ops/synapse.js';

describe('quantizeSynapse on a 151 936-output Linear', () => {
  it('certifies 12-bit weights: every |w| = 2047 and the bound is 2 · 2047 · M', () => {
    const O = 151_936, I = 2, M = 10;
    const s = quantizeSynapse({ weight: new Float32Array(I * O).fill(0.5), transposed: false, inFeatures: I, outFeatures: O, unit: new Float32Array(I).fill(1), maxCount: M });
    expect(s).not.toBeNull();
    expect(s!.bits).toBe(12);
    expect(s!.bound).toBe(2 * 2047 * M);
    expect(synapseWeights(s!).every((w) => w === 2047)).toBe(true);
    expect(s!.scale[O - 1]).toBeCloseTo(0.5 / 2047, 12);
  });
});
