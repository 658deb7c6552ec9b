// Headroom digits of the weighted code: θ maps to M_(T−h), counts clip only beyond M_T, the top digits
// fire only for values beyond θ; checked on one-node ONNX graphs against the JS definition written here.
import { describe, expect, it } from 'vitest';
import { isSnnError } from '../../src/errors/index.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph } from '../../src/ir/types.js';
import { checkHeadroom, nafDigits } from '../../src/ops/spike-code.js';
import { OP_SPEC, output, runGraph } from '../harness/onnx-run.js';

const B = 1, S = 4, D = 3;
const THETA = Float32Array.from([1, 2, 0.5]);

function graphOf(T: number, headroom: number): Graph {
  const g = new GraphBuilder(OP_SPEC);
  g.addWeight({ name: 'n.threshold', shape: [D], source: { kind: 'data', data: THETA } });
  g.addWeight({ name: 'lin.weight', shape: [D, D], source: { kind: 'data', data: Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) } });
  const n = g.op('Neuron', 'n', ['x'], { attrs: { kind: 'SignedIF', levels: 1, site: 'n' }, weights: { threshold: 'n.threshold' } });
  g.op('Linear', 'lin', [n], { attrs: { inFeatures: D, outFeatures: D, transposed: false }, weights: { weight: 'lin.weight' }, outputs: ['y'] });
  return g.build([{ name: 'x', dtype: 'float32', shape: [B, S, D] }], [{ name: 'y', dtype: 'float32', shape: [B, S, D] }], { timesteps: T, recipe: 'test', code: 'weighted', headroom, tdConvention: 'mean' });
}

/** Inputs as multiples of each channel's θ: inside the calibrated range, 1.5θ and 1.9θ (beyond it), 5θ (beyond 2^h·θ). */
const MULTIPLES = [0.3, 1.5, 1.9, 5];
const x = Float32Array.from({ length: B * S * D }, (_, e) => MULTIPLES[Math.floor(e / D)]! * THETA[e % D]!);

describe('headroom: values beyond what calibration saw are coded, not cut to θ', () => {
  for (const [T, h] of [[7, 0], [7, 1], [8, 2]] as const) {
    it(`T=${T}, headroom ${h}: unit θ/M_${T - h}, clip at M_${T}, high digits silent inside the calibrated range`, async () => {
      const out = await runGraph(graphOf(T, h), 'snn', { x: [x, [B, S, D]] }, { exposeSpikes: true, execution: 'closed' });
      const planes = output(out, 'spikes/n').data;
      const sat = output(out, 'saturation/n').data;
      // Hand values: M_k = ⌊(2^(k+1) − 1)/3⌋.
      const M = (k: number) => Math.floor((2 ** (k + 1) - 1) / 3);
      for (let e = 0; e < B * S * D; e++) {
        const m = MULTIPLES[Math.floor(e / D)]!;
        const raw = Math.round(m * M(T - h));
        const q = Math.min(M(T), raw);
        expect(Array.from({ length: T }, (_, t) => planes[t * B * S * D + e]! + 0), `element ${e}`).toEqual(nafDigits(q, T));
        expect(sat[e], `saturation of ${m}θ`).toBe(raw > M(T) ? 1 : 0);
        // The y = u·q the Linear reads: within one unit of x wherever the count did not clip.
        if (raw <= M(T)) expect(Math.abs(output(out, 'y').data[e]! - x[e]!)).toBeLessThanOrEqual(THETA[e % D]! / M(T - h) * 0.51 + 1e-3 * THETA[e % D]!);
        if (m <= 1) for (let t = 0; t < h; t++) expect(planes[t * B * S * D + e]).toBe(0);
      }
      // 1.5θ and 1.9θ clip without headroom and pass with one digit; 5θ passes only with more than two.
      const clippedAt = (m: number) => sat[MULTIPLES.indexOf(m) * D]!;
      expect(clippedAt(1.5)).toBe(h === 0 ? 1 : 0);
      expect(clippedAt(5)).toBe(1);
    });
  }

  it('refuses a headroom that leaves no digit, a negative one, and headroom with rate coding', () => {
    for (const [code, T, h] of [['weighted', 2, 2], ['weighted', 7, -1], ['rate', 16, 1]] as const) {
      try { checkHeadroom(code, T, h); expect.unreachable(); } catch (e) { expect(isSnnError(e) && e.code).toBe('OPTION_INVALID'); }
    }
    expect(() => checkHeadroom('weighted', 8, 1)).not.toThrow();
  });
});
