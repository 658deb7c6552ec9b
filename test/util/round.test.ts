// roundHalfUp (the quantizers' branch-free rounding) against Math.round, the rule it replaces.
import { describe, expect, it } from 'vitest';
import { roundHalfUp } from '../../src/util/round.js';
import { createRng } from '../../src/runtime/sampling.js';

describe('roundHalfUp', () => {
  it('rounds halves up, as Math.round does, on both signs', () => {
    for (const [v, r] of [[2.5, 3], [-2.5, -2], [0.5, 1], [-0.5, 0], [1.4999999999999998, 1], [0.49999999999999994, 0], [-0.49999999999999994, 0], [127, 127], [-63.5, -63], [31.4999, 31]] as const) {
      expect(roundHalfUp(v) + 0, String(v)).toBe(r);
      expect(roundHalfUp(v) + 0, String(v)).toBe(Math.round(v) + 0);
    }
  });

  it('equals Math.round on a million quotients like the quantizers\' (float32 weights over float32 scales)', () => {
    const rng = createRng(1);
    for (let i = 0; i < 1_000_000; i++) {
      const v = Math.fround(rng() - 0.5) / Math.fround(rng() * 0.01 + 1e-6);
      if (roundHalfUp(v) !== Math.round(v)) expect.fail(`${v}: ${roundHalfUp(v)} vs ${Math.round(v)}`);
    }
  });
});
