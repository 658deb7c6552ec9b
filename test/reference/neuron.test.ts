// The event reference's neuron against hand-computed membrane traces, and its trains against an independent rounding.
import { describe, expect, it } from 'vitest';
import { largestCount, neuronParams, runPhase, runRateTrain } from '../../src/reference/neuron.js';

describe('signed-digit neuron, step by step', () => {
  it('M_k, the largest count k digits carry: 0, 1, 2, 5, 10, 21, 42, 85', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(largestCount)).toEqual([0, 1, 2, 5, 10, 21, 42, 85]);
  });

  it('T=3, input 3.2: fires +1 (3.2 > 2.5, v → −0.8), stays (|−0.8| < 1.5), fires −1 (−0.8 < −0.5, v → 0.2)', () => {
    const p = runPhase(3.2, neuronParams(3, true));
    expect(p.spikes).toEqual([1, 0, -1]);
    expect(p.trace.map((v) => Number(v.toFixed(6)))).toEqual([-0.8, -0.8, 0.2]);
    expect(p.clipped).toBe(false);
  });

  it('T=3, ties go to the even count: 2.5 sends 2 (no fire at 2.5 = M_2 + ½, fire at 1.5 < 2.5, none at 0.5), 3.5 sends 4', () => {
    const a = runPhase(2.5, neuronParams(3, true));
    expect(a.spikes).toEqual([0, 1, 0]);
    expect(a.trace).toEqual([2.5, 0.5, 0.5]);
    const b = runPhase(3.5, neuronParams(3, true));
    expect(b.spikes).toEqual([1, 0, 0]);
    expect(b.trace).toEqual([-0.5, -0.5, -0.5]);
    expect(runPhase(-3.5, neuronParams(3, true)).spikes).toEqual([-1, 0, 0]);
  });

  it('T=3, input 9 saturates at M_3 = 5 (sent as 4 + 1) and is counted as clipped; −2 into an unsigned neuron sends nothing, clipped', () => {
    const p = runPhase(9, neuronParams(3, true));
    expect(p.spikes).toEqual([1, 0, 1]);
    expect(p.clipped).toBe(true);
    expect(runPhase(5.4, neuronParams(3, true)).clipped).toBe(false);
    const q = runPhase(-2, neuronParams(3, false));
    expect(q.spikes).toEqual([0, 0, 0]);
    expect(q.clipped).toBe(true);
    expect(runPhase(-0.4, neuronParams(3, false)).clipped).toBe(false);
  });

  it('T=7 on 20 000 seeded currents: the train adds up to the input rounded half to even and clipped, with no two adjacent spikes', () => {
    const T = 7;
    const M = 85;
    let seed = 12345;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    // Independent rounding: half to even by hand.
    const roundEven = (x: number) => { const f = Math.floor(x); const d = x - f; return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1; };
    let wrongCount = 0;
    let adjacent = 0;
    for (let i = 0; i < 20_000; i++) {
      const x = i % 4 === 0 ? Math.floor(rand() * 240) / 2 - 60 : (rand() - 0.5) * 220; // every 4th a half-integer tie
      const p = runPhase(x, neuronParams(T, true));
      const count = p.spikes.reduce((a, s, t) => a + s * 2 ** (T - 1 - t), 0);
      if (count !== Math.max(-M, Math.min(M, roundEven(x)))) wrongCount += 1;
      for (let t = 1; t < T; t++) if (p.spikes[t - 1]! !== 0 && p.spikes[t]! !== 0) adjacent += 1;
    }
    expect(wrongCount).toBe(0);
    expect(adjacent).toBe(0);
  });
});

// Rate code: currents in units u = θ/levels, on the shifted membrane (starts at 0, thresholds at ±½).
describe('rate neuron, step by step', () => {
  it('IF, levels 1, current 0.375 per step: 0.375 stays, 0.75 fires (→ −0.25), 0.125 stays, 0.5 is a tie to the even count 0', () => {
    const r = runRateTrain([0.375, 0.375, 0.375, 0.375], { levels: 1, signed: false });
    expect(r.spikes).toEqual([0, 1, 0, 0]);
    expect(r.trace).toEqual([0.375, -0.25, 0.125, 0.5]);
    expect(r.clipped).toBe(0);
  });

  it('IF, levels 2, current 1.5 per step: 1.5 fires twice (tie to 2, → −0.5), 1.0 once (→ 0), 1.5 twice again', () => {
    const r = runRateTrain([1.5, 1.5, 1.5], { levels: 2, signed: false });
    expect(r.spikes).toEqual([2, 1, 2]);
    expect(r.trace).toEqual([-0.5, 0, -0.5]);
    expect(r.clipped).toBe(0);
  });

  it('IF, levels 1, currents 2.25, 0, −2: the first step saturates (2.25 would send 2), the third too (−1.75 below −½ sends nothing)', () => {
    const r = runRateTrain([2.25, 0, -2], { levels: 1, signed: false });
    expect(r.spikes).toEqual([1, 1, 0]);
    expect(r.trace).toEqual([1.25, 0.25, -1.75]);
    expect(r.clipped).toBe(2);
    // −½ rounds to −0: not below the range, not saturated.
    expect(runRateTrain([-0.5], { levels: 1, signed: false }).clipped).toBe(0);
  });

  it('SignedIF, levels 1, currents −0.75, −0.75, 0.5, 2.5: fires −1, holds at the tie −0.5 (odd count), fires +1 at 2.5 and saturates', () => {
    const r = runRateTrain([-0.75, -0.75, 0.5, 2.5], { levels: 1, signed: true });
    expect(r.spikes).toEqual([-1, 0, 0, 1]);
    expect(r.trace).toEqual([0.25, -0.5, 0, 1.5]);
    expect(r.clipped).toBe(1);
  });

  it('SignedIF, levels 3: −2.5 sends −2 (tie to even), −3.5 sends −3 and saturates (would send −4), 3.5 sends 3 and saturates', () => {
    const a = runRateTrain([-2.5], { levels: 3, signed: true });
    expect([a.spikes, a.trace, a.clipped]).toEqual([[-2], [-0.5], 0]);
    const b = runRateTrain([-3.5], { levels: 3, signed: true });
    expect([b.spikes, b.trace, b.clipped]).toEqual([[-3], [-0.5], 1]);
    const c = runRateTrain([3.5], { levels: 3, signed: true });
    expect([c.spikes, c.trace, c.clipped]).toEqual([[3], [0.5], 1]);
  });

  it('T=6 on 20 000 seeded trains: every step equals w += x; s = clip(round half to even (w)); w −= s, computed by hand in float32', () => {
    let seed = 777;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const roundEven = (x: number) => { const f = Math.floor(x); const d = x - f; return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1; };
    let wrong = 0;
    for (let i = 0; i < 20_000; i++) {
      const levels = 1 + (i % 3);
      const signed = i % 2 === 0;
      // Every 4th train on quarter-integers (ties), the rest any float32 current.
      const xs = Array.from({ length: 6 }, () => (i % 4 === 0 ? Math.floor(rand() * 32) / 4 - 4 : Math.fround((rand() - 0.45) * 6)));
      const r = runRateTrain(xs, { levels, signed });
      let w = 0;
      let clipped = 0;
      const spikes: number[] = [];
      xs.forEach((x, t) => {
        w = t === 0 ? x : Math.fround(w + x);
        const q = roundEven(w);
        const s = Math.max(signed ? -levels : 0, Math.min(levels, q));
        if (s !== q) clipped += 1;
        spikes.push(s);
        w = Math.fround(w - s);
      });
      if (JSON.stringify(r.spikes) !== JSON.stringify(spikes) || r.clipped !== clipped) wrong += 1;
    }
    expect(wrong).toBe(0);
  });
});
