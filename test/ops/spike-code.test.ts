// The weighted signed-digit code: NAF digits against a brute-force search, and both ONNX forms of the
// weighted neuron (closed T-parallel and step by step) against the JS definition, on the same inputs.
import { describe, expect, it } from 'vitest';
import { isSnnError } from '../../src/errors/index.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph } from '../../src/ir/types.js';
import { checkCodeSupports, MAX_WEIGHTED_TIMESTEPS, nafDigits, nafMax, nafWeight, parseCode } from '../../src/ops/spike-code.js';
import { OP_SPEC, normals, output, runGraph } from '../harness/onnx-run.js';

/** Every signed-digit string over T digits (MSB first) summing to q, the fewest non-zero digits first (independent reference). */
function minimalForms(q: number, T: number): number[][] {
  const all: number[][] = [];
  const walk = (prefix: number[]) => {
    if (prefix.length === T) { if (prefix.reduce((a, d, i) => a + d * 2 ** (T - 1 - i), 0) === q) all.push(prefix); return; }
    for (const d of [-1, 0, 1]) walk([...prefix, d]);
  };
  walk([]);
  const weight = (f: number[]) => f.filter((d) => d !== 0).length;
  const best = Math.min(...all.map(weight));
  return all.filter((f) => weight(f) === best);
}

describe('NAF digits (the weighted code\'s spike trains)', () => {
  it('M_T is the largest count T non-adjacent digits represent: 1, 2, 5, 10, 21, 42, 85', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(nafMax)).toEqual([1, 2, 5, 10, 21, 42, 85]);
  });

  for (const T of [1, 2, 3, 5, 7]) {
    it(`T = ${T}: every count in [−M_T, M_T] gets a minimal-weight, non-adjacent form that sums back to it`, () => {
      for (let q = -nafMax(T); q <= nafMax(T); q++) {
        const digits = nafDigits(q, T);
        expect(digits.reduce((a, d, i) => a + d * 2 ** (T - 1 - i), 0)).toBe(q);
        const forms = minimalForms(q, T);
        expect(forms.map((f) => f.join(','))).toContain(digits.join(','));
        for (let i = 1; i < T; i++) expect(digits[i - 1]! !== 0 && digits[i]! !== 0, `q=${q}: adjacent non-zero digits`).toBe(false);
        expect(nafWeight(q)).toBe(digits.filter((d) => d !== 0).length);
      }
    });
  }

  it('fewer events than plain binary digits, and ~30× fewer than a rate code, for the counts 1..M_8', () => {
    const M = nafMax(8);
    let naf = 0, binary = 0, rate = 0;
    for (let q = 1; q <= M; q++) { naf += nafWeight(q); binary += q.toString(2).split('').filter((c) => c === '1').length; rate += q; }
    expect(naf).toBeLessThan(binary);
    expect(rate / naf).toBeGreaterThan(25);
  });
});

describe('codes refuse what they cannot represent (typed errors listing the allowed values)', () => {
  it('an unknown code', () => {
    try { parseCode('bitplane'); expect.unreachable(); } catch (e) {
      expect(isSnnError(e) && e.code).toBe('OPTION_INVALID');
      expect((e as Error).message).toContain('weighted, rate');
    }
  });
  it('levels > 1 with the weighted code', () => {
    expect(() => checkCodeSupports('weighted', 7, 2, 'h.0.ln_1')).toThrow(/levels 1/);
  });
  it(`T above ${MAX_WEIGHTED_TIMESTEPS} with the weighted code`, () => {
    expect(() => checkCodeSupports('weighted', MAX_WEIGHTED_TIMESTEPS + 1, 1, 's')).toThrow(new RegExp(`1–${MAX_WEIGHTED_TIMESTEPS}`));
    expect(() => checkCodeSupports('rate', 64, 3, 's')).not.toThrow();
  });
});

const B = 2, S = 5, D = 6;
const THETA = Float32Array.from([0.5, 1, 2, 0.25, 3, 1.5]);

/** x → Neuron (weighted, θ per channel) → Linear → output y; spikes exposed. */
function weightedGraph(T: number, kind: 'SignedIF' | 'IF'): Graph {
  const g = new GraphBuilder(OP_SPEC);
  g.addWeight({ name: 'n.threshold', shape: [D], source: { kind: 'data', data: THETA } });
  g.addWeight({ name: 'lin.weight', shape: [D, D], source: { kind: 'data', data: normals(D * D, 5, 0.5) } });
  const n = g.op('Neuron', 'n', ['x'], { attrs: { kind, levels: 1, site: 'n' }, weights: { threshold: 'n.threshold' } });
  g.op('Linear', 'lin', [n], { attrs: { inFeatures: D, outFeatures: D, transposed: false }, weights: { weight: 'lin.weight' }, outputs: ['y'] });
  return g.build([{ name: 'x', dtype: 'float32', shape: [B, S, D] }], [{ name: 'y', dtype: 'float32', shape: [B, S, D] }], { timesteps: T, recipe: 'test', code: 'weighted', tdConvention: 'mean' });
}

/** ONNX Round is half to even. */
const roundHalfEven = (x: number): number => { const r = Math.round(x); return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; };

describe('the weighted neuron in ONNX: closed form ≡ step by step ≡ the JS definition', () => {
  for (const kind of ['SignedIF', 'IF'] as const) {
    for (const T of [1, 4, 7, 12]) {
      it(`${kind}, T = ${T}: identical digit planes, counts clip at M_T, the Linear reads u·q`, async () => {
        const x = normals(B * S * D, 40 + T, 2.5);
        const graph = weightedGraph(T, kind);
        const closed = await runGraph(graph, 'snn', { x: [x, [B, S, D]] }, { exposeSpikes: true, execution: 'closed' });
        const steps = await runGraph(graph, 'snn', { x: [x, [B, S, D]] }, { exposeSpikes: true, execution: 'steps' });
        const planes = output(closed, 'spikes/n');
        expect(planes.dims).toEqual([T, B, S, D]);
        expect(Array.from(output(steps, 'spikes/n').data, (v) => v + 0)).toEqual(Array.from(planes.data, (v) => v + 0));
        const M = nafMax(T);
        let clipped = 0;
        for (let e = 0; e < B * S * D; e++) {
          const unit = Math.fround(THETA[e % D]! / M);
          const raw = roundHalfEven(Math.fround(x[e]! / unit));
          const q = Math.min(M, Math.max(kind === 'IF' ? 0 : -M, raw));
          if (q !== raw) clipped += 1;
          const got = Array.from({ length: T }, (_, t) => planes.data[t * B * S * D + e]! + 0);
          expect(got, `element ${e}`).toEqual(nafDigits(q, T));
        }
        const sat = output(closed, 'saturation/n');
        expect(sat.data.reduce((a, v) => a + v, 0)).toBe(clipped);
        expect(output(steps, 'saturation/n').data.reduce((a, v) => a + v, 0)).toBe(clipped);
        const yc = output(closed, 'y').data, ys = output(steps, 'y').data;
        expect(Array.from(ys)).toEqual(Array.from(yc));
      });
    }
  }
});
