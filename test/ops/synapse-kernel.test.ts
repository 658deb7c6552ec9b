// The integer synapse's two kernels: native forms multiply on onnxruntime's 8-bit GEMM (MatMulInteger), the
// portable form on float32 MatMul. Both must give y = s_j·Σ_k w_kj·q_k + b_j with the exact integer sum; checked
// against that sum taken here in float64 from the spike planes the run emitted, over T from 3 to 22 (counts
// of 2 to 22 bits, one to four count parts) and weights of 6 to 12 bits.
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { emitOnnx } from '../../src/emit/lower.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph } from '../../src/ir/types.js';
import { planSynapse, synapseWeights } from '../../src/ops/synapse.js';
import { nafMax, unitCount } from '../../src/ops/spike-code.js';
import { mulberry32 } from '../../src/util/random.js';
import { weightData } from '../../src/weights/weight-data.js';
import { OP_SPEC, output, runGraph } from '../harness/onnx-run.js';

const B = 2, S = 3, O = 24;

interface Case { readonly T: number; readonly headroom: number; readonly flat: boolean; readonly I: number }

/** Seeded weights; `flat` gives every output channel equal |W·u| over its inputs, so Σ|w| is as large as it can be and the bound forces few bits. */
function graphOf({ T, headroom, flat, I }: Case, seed: number): { graph: Graph; weight: Float32Array; theta: Float32Array; bias: Float32Array } {
  const rand = mulberry32(seed);
  const theta = Float32Array.from({ length: I }, () => 0.5 + rand() * 2);
  const weight = Float32Array.from({ length: I * O }, (_, e) => (flat ? (rand() < 0.5 ? -1 : 1) / theta[Math.floor(e / O)]! : (rand() - 0.5) * (rand() < 0.05 ? 8 : 1)));
  const bias = Float32Array.from({ length: O }, () => rand() - 0.5);
  const g = new GraphBuilder(OP_SPEC);
  g.addWeight({ name: 'n.threshold', shape: [I], source: { kind: 'data', data: theta } });
  g.addWeight({ name: 'lin.weight', shape: [I, O], source: { kind: 'data', data: weight } });
  g.addWeight({ name: 'lin.bias', shape: [O], source: { kind: 'data', data: bias } });
  const n = g.op('Neuron', 'n', ['x'], { attrs: { kind: 'SignedIF', levels: 1, site: 'n' }, weights: { threshold: 'n.threshold' } });
  g.op('Linear', 'lin', [n], { attrs: { inFeatures: I, outFeatures: O, transposed: false }, weights: { weight: 'lin.weight', bias: 'lin.bias' }, outputs: ['y'] });
  const graph = g.build([{ name: 'x', dtype: 'float32', shape: [B, S, I] }], [{ name: 'y', dtype: 'float32', shape: [B, S, O] }], { timesteps: T, recipe: 'test', code: 'weighted', headroom, tdConvention: 'mean' });
  return { graph, weight, theta, bias };
}

const opTypes = (graph: Graph, portable: boolean): string[] => {
  const { bytes } = emitOnnx(graph, { mode: 'snn', placeWeight: (w) => ({ inline: weightData(w) }), exposeSpikes: false, observe: [], portable });
  return (onnxProto.onnx.ModelProto.decode(bytes).graph?.node ?? []).map((n) => n.opType ?? '');
};

const CASES: readonly Case[] = [
  { T: 3, headroom: 0, flat: false, I: 300 }, { T: 7, headroom: 0, flat: false, I: 300 }, { T: 8, headroom: 0, flat: false, I: 300 },
  { T: 8, headroom: 2, flat: false, I: 300 }, { T: 11, headroom: 1, flat: false, I: 300 }, { T: 16, headroom: 0, flat: false, I: 300 },
  { T: 22, headroom: 0, flat: false, I: 300 }, { T: 22, headroom: 4, flat: true, I: 300 }, { T: 12, headroom: 0, flat: true, I: 300 },
  // 4 096 inputs of equal |W·u| at 22 bits of count: even four 6-bit parts leave room for 7-bit weights only.
  { T: 22, headroom: 0, flat: true, I: 4096 },
];

describe('integer synapse kernels: 8-bit GEMM (native) and float32 (portable) give the exact sum', () => {
  const seen = { bits: new Set<number>(), groups: new Set<number>() };
  for (const [c, kase] of CASES.entries()) {
    it(`T=${kase.T}, headroom ${kase.headroom}, ${kase.I} inputs${kase.flat ? ', flat weights' : ''}`, async () => {
      const { I } = kase;
      const { graph, weight, theta, bias } = graphOf(kase, 100 + c);
      expect(opTypes(graph, false)).toContain('MatMulInteger');
      expect(opTypes(graph, true)).not.toContain('MatMulInteger');
      const rand = mulberry32(7 + c);
      // Inputs up to ±3θ: beyond the calibrated range where there is headroom, clipped where not.
      const x = Float32Array.from({ length: B * S * I }, (_, e) => (rand() - 0.5) * 6 * theta[e % I]!);
      const feeds = { x: [x, [B, S, I]] } as const;
      const native = await runGraph(graph, 'snn', feeds, { exposeSpikes: true, execution: 'closed' });
      const portable = await runGraph(graph, 'snn', feeds, { exposeSpikes: true, execution: 'closed', portable: true });

      const { T, headroom } = kase;
      const plan = planSynapse({ weight, transposed: false, inFeatures: I, outFeatures: O, unit: Float32Array.from(theta, (t) => Math.fround(t / unitCount(T, headroom))) }, nafMax(T))!;
      expect(plan).not.toBeNull();
      const { synapse: { scale, bits }, groups, chunkBits } = plan;
      const w = synapseWeights(plan.synapse);
      seen.bits.add(bits);
      seen.groups.add(groups);
      // The counts, read back from the digit planes the run emitted (most significant step first).
      const planes = output(native, 'spikes/n').data;
      const q = Float64Array.from({ length: B * S * I }, (_, e) => Array.from({ length: T }, (_, t) => planes[t * B * S * I + e]! * 2 ** (T - 1 - t)).reduce((a, v) => a + v, 0));
      expect(Math.max(...q.map(Math.abs))).toBeGreaterThan(nafMax(T - headroom) / 2);
      // The parts' sums, exact in float64; recombined in float32 as the graph does (exact powers of two, one rounding per add).
      const part = (v: number, g: number): number => {
        if (groups === 1) return v;
        const m = Math.abs(v), above = (k: number) => Math.floor(m / 2 ** k);
        return Math.sign(v) * (g === groups - 1 ? above(chunkBits * g) : above(chunkBits * g) - 2 ** chunkBits * above(chunkBits * (g + 1)));
      };
      const expected = new Float32Array(B * S * O);
      for (let r = 0; r < B * S; r++) {
        for (let j = 0; j < O; j++) {
          let acc = 0;
          for (let g = 0; g < groups; g++) {
            let sum = 0;
            for (let k = 0; k < I; k++) sum += w[k * O + j]! * part(q[r * I + k]!, g);
            expect(Math.abs(sum)).toBeLessThan(2 ** 24);
            acc = g === 0 ? sum : Math.fround(acc + sum * 2 ** (chunkBits * g));
          }
          expected[r * O + j] = Math.fround(Math.fround(acc * scale[j]!) + bias[j]!);
        }
      }
      const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
      expect(bitsOf(output(native, 'y').data)).toEqual(bitsOf(expected));
      expect(bitsOf(output(portable, 'y').data)).toEqual(bitsOf(expected));
    });
  }

  it('covered weights of ≤ 7 bits (one plane) and 12 bits (two planes), counts whole and split into parts', () => {
    expect(Math.min(...seen.bits)).toBeLessThanOrEqual(7);
    expect(seen.bits).toContain(12);
    expect(seen.groups).toContain(1);
    expect(Math.max(...seen.groups)).toBeGreaterThan(1);
  });
});
