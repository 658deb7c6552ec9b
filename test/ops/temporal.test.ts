// Temporal-difference operators (docs/design.md §2, mean convention) on time-varying inputs, against plain-JS f on running means:
// (1/T)·Σ_t y_t = f(m_T), and y_t = t·f(m_t) − (t−1)·f(m_{t−1}) at every step. SpikeAttention against the design (docs/design.md §2)'s
// rule: token j at step t attends to the other tokens' final (T-aggregated) K/V and to its own step-t K/V.
import { describe, expect, it } from 'vitest';
import { emitOnnx } from '../../src/emit/lower.js';
import { SnnError } from '../../src/errors/index.js';
import { weightData } from '../../src/weights/weight-data.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Attrs, Graph } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { OP_SPEC, ints, normals, output, runGraph, toleranceRatio, uniforms, type Tensor } from '../harness/onnx-run.js';
import { attendOne, geluErf, geluTanh, layerNorm, relu, rmsNorm, rope, runningMeans, silu, temporalDifference } from '../harness/reference.js';

const B = 2;
const S = 3;
const D = 8;
const ROWS = B * S;
const SPIKING = (T: number) => ({ timesteps: T, recipe: 'test', tdConvention: 'mean' as const });

const LN_W = normals(D, 21, 0.3, 1);
const LN_B = normals(D, 22, 0.2);
const EPS = 1e-5;

/**
 * x [B, S, D] → SignedIF neuron → Linear 'a' (and 'b'): spike-driven, so 'a' and 'b' vary over the T steps.
 * Returns the builder and the names of the time-varying signals.
 */
function timeVaryingSources(g: GraphBuilder, count: number): string[] {
  g.addWeight({ name: 'pre.threshold', shape: [D], source: { kind: 'data', data: new Float32Array(D).fill(1.2) } });
  const spikes = g.op('Neuron', 'pre', ['x'], { attrs: { kind: 'SignedIF', levels: 2, site: 'pre' }, weights: { threshold: 'pre.threshold' } });
  return ['a', 'b', 'c'].slice(0, count).map((name, i) => {
    g.addWeight({ name: `${name}.weight`, shape: [D, D], source: { kind: 'data', data: normals(D * D, 30 + i, 0.7) } });
    g.addWeight({ name: `${name}.bias`, shape: [D], source: { kind: 'data', data: normals(D, 40 + i, 0.4) } });
    return g.op('Linear', name, [spikes], { attrs: { inFeatures: D, outFeatures: D, transposed: false }, weights: { weight: `${name}.weight`, bias: `${name}.bias` } });
  });
}

interface TdCase {
  readonly name: string;
  readonly op: string;
  readonly arity: 1 | 2;
  readonly attrs?: Attrs;
  readonly weights?: Readonly<Record<string, Float32Array>>;
  /** f on the rows of its (running-mean) inputs, float64. */
  readonly f: (inputs: readonly (readonly number[])[]) => number[];
}

const pointwise = (fn: (x: number) => number) => (inputs: readonly (readonly number[])[]) => inputs[0]!.map(fn);

const CASES: readonly TdCase[] = [
  { name: 'SpikeLayerNorm', op: 'SpikeLayerNorm', arity: 1, attrs: { eps: EPS }, weights: { weight: LN_W, bias: LN_B }, f: ([x]) => layerNorm(x!, LN_W, LN_B, EPS) },
  { name: 'SpikeRMSNorm', op: 'SpikeRMSNorm', arity: 1, attrs: { eps: EPS }, weights: { weight: LN_W }, f: ([x]) => rmsNorm(x!, LN_W, EPS) },
  { name: 'Gelu (erf)', op: 'Gelu', arity: 1, attrs: { approximate: 'none' }, f: pointwise(geluErf) },
  { name: 'Gelu (tanh)', op: 'Gelu', arity: 1, attrs: { approximate: 'tanh' }, f: pointwise(geluTanh) },
  { name: 'Relu', op: 'Relu', arity: 1, f: pointwise(relu) },
  { name: 'Silu', op: 'Silu', arity: 1, f: pointwise(silu) },
  { name: 'Mul (TD over both running means)', op: 'Mul', arity: 2, f: ([a, b]) => a!.map((v, i) => v * b![i]!) },
];

function tdGraph(c: TdCase, T: number): { graph: Graph; sources: string[] } {
  const g = new GraphBuilder(OP_SPEC);
  const sources = timeVaryingSources(g, c.arity);
  const roles: Record<string, string> = {};
  for (const [role, data] of Object.entries(c.weights ?? {})) roles[role] = g.addWeight({ name: `f.${role}`, shape: [D], source: { kind: 'data', data } });
  g.op(c.op, 'f', sources, { attrs: c.attrs ?? {}, weights: roles });
  const graph = g.build([{ name: 'x', dtype: 'float32', shape: [B, S, D] }], [{ name: 'f', dtype: 'float32', shape: [B, S, D] }], SPIKING(T));
  expect(verifyGraph(graph)).toEqual([]);
  return { graph, sources };
}

/** Step t of a [T, B, S, D] tensor as a flat row-major array. */
const stepOf = (t: Tensor, s: number): number[] => Array.from(t.data.subarray(s * ROWS * D, (s + 1) * ROWS * D));

/** Per-step values must be compared with a tolerance that grows with t (y_t carries t·f(m_t)). */
function expectStepsClose(actual: Tensor, expected: readonly (readonly number[])[], tol: number): void {
  expected.forEach((row, s) => expect(toleranceRatio(stepOf(actual, s), row, tol, tol * (s + 1)), `step ${s + 1}`).toBeLessThanOrEqual(1));
}

describe('TD operators on time-varying inputs equal f of the running mean', () => {
  for (const c of CASES) {
    for (const T of [1, 4, 9]) {
      it(`${c.name}, T = ${T}: per step y_t = t·f(m_t) − (t−1)·f(m_{t−1}); the mean over T is f(m_T)`, async () => {
        const { graph, sources } = tdGraph(c, T);
        const x = uniforms(ROWS * D, 50 + T, -2, 2);
        const out = await runGraph(graph, 'snn', { x: [x, [B, S, D]] }, { observe: [...sources, 'f'] });
        const inputs = sources.map((s) => output(out, `observe/${s}`));
        for (const t of inputs) expect(t.dims).toEqual([T, B, S, D]);
        // The inputs really vary over time (T > 1), so running means differ from the inputs.
        if (T > 1) expect(stepOf(inputs[0]!, 0)).not.toEqual(stepOf(inputs[0]!, T - 1));
        const means = inputs.map((t) => runningMeans(Array.from({ length: T }, (_, s) => stepOf(t, s))));
        const fOfMeans = Array.from({ length: T }, (_, s) => c.f(means.map((m) => m[s]!)));
        const y = output(out, 'observe/f');
        expect(y.dims).toEqual([T, B, S, D]);
        expectStepsClose(y, temporalDifference(fOfMeans), 2e-5);
        // The graph output is the readout: the mean over T, which must equal f(m_T).
        const readout = output(out, 'f');
        expect(readout.dims).toEqual([B, S, D]);
        expect(toleranceRatio(readout.data, fOfMeans[T - 1]!, 2e-5, 2e-5)).toBeLessThanOrEqual(1);
      });
    }
  }

  it('a TD op whose input is constant over T stays untimed and computes f(x) itself', async () => {
    const g = new GraphBuilder(OP_SPEC);
    g.op('Gelu', 'f', ['x'], { attrs: { approximate: 'none' } });
    const graph = g.build([{ name: 'x', dtype: 'float32', shape: [B, S, D] }], [{ name: 'f', dtype: 'float32', shape: [B, S, D] }], SPIKING(5));
    const x = uniforms(ROWS * D, 60, -3, 3);
    const out = await runGraph(graph, 'snn', { x: [x, [B, S, D]] }, { observe: ['f'] });
    expect(output(out, 'observe/f').dims).toEqual([B, S, D]);
    expect(toleranceRatio(output(out, 'f').data, Array.from(x, geluErf), 1e-5, 1e-6)).toBeLessThanOrEqual(1);
  });

  // A Linear fed by a rate neuron is an integer synapse (docs/design.md §5): W·u quantized per output to
  // 12 bits, max-abs (scale_j = max_i |W_ij·u_i| / 2047), so each step's output is within
  // ½·scale_j·Σ_i |s_i| of the float product (s_i the integer spikes, u = θ/levels = 0.6).
  it('linear ops (Add, Linear) act on every step unchanged', async () => {
    const T = 4;
    const g = new GraphBuilder(OP_SPEC);
    const [a, b] = timeVaryingSources(g, 2);
    g.op('Add', 'sum', [a!, b!]);
    const graph = g.build([{ name: 'x', dtype: 'float32', shape: [B, S, D] }], [{ name: 'sum', dtype: 'float32', shape: [B, S, D] }], SPIKING(T));
    const out = await runGraph(graph, 'snn', { x: [uniforms(ROWS * D, 61, -2, 2), [B, S, D]] }, { observe: ['a', 'b', 'sum', 'pre'] });
    const [ta, tb, sum, pre] = ['a', 'b', 'sum', 'pre'].map((n) => output(out, `observe/${n}`));
    const w = normals(D * D, 30, 0.7);
    const bias = normals(D, 40, 0.4);
    for (let s = 0; s < T; s++) {
      const spikes = stepOf(pre!, s);
      const linear = Array.from({ length: ROWS * D }, (_, e) => {
        const r = Math.floor(e / D);
        const o = e % D;
        return bias[o]! + Array.from({ length: D }, (_, i) => spikes[r * D + i]! * w[i * D + o]!).reduce((p, v) => p + v, 0);
      });
      const u = Math.fround(1.2 / 2);
      const scale = Array.from({ length: D }, (_, o) => Math.max(...Array.from({ length: D }, (_, i) => Math.abs(w[i * D + o]! * u))) / 2047);
      let worst = 0;
      stepOf(ta!, s).forEach((v, e) => {
        const r = Math.floor(e / D);
        const events = Array.from({ length: D }, (_, i) => Math.abs(Math.round(spikes[r * D + i]! / u))).reduce((p, q) => p + q, 0);
        worst = Math.max(worst, Math.abs(v - linear[e]!) / (0.5 * scale[e % D]! * events + 1e-5 * (1 + Math.abs(linear[e]!))));
      });
      expect(worst).toBeLessThanOrEqual(1);
      expect(toleranceRatio(stepOf(sum!, s), stepOf(ta!, s).map((v, i) => v + stepOf(tb!, s)[i]!), 1e-6, 1e-6)).toBeLessThanOrEqual(1);
    }
  });

  it('LayerNorm itself has no spiking form: emitting it in snn mode is OP_UNSUPPORTED naming the pass to run', () => {
    const g = new GraphBuilder(OP_SPEC);
    g.addWeight({ name: 'w', shape: [D], source: { kind: 'data', data: LN_W } });
    g.addWeight({ name: 'b', shape: [D], source: { kind: 'data', data: LN_B } });
    g.op('LayerNorm', 'ln', ['x'], { attrs: { eps: EPS }, weights: { weight: 'w', bias: 'b' } });
    const graph = g.build([{ name: 'x', dtype: 'float32', shape: [B, S, D] }], [{ name: 'ln', dtype: 'float32', shape: [B, S, D] }], SPIKING(2));
    let error: unknown;
    try { emitOnnx(graph, { mode: 'snn', placeWeight: (w) => ({ inline: weightData(w) }) }); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(SnnError);
    expect((error as SnnError).code).toBe('OP_UNSUPPORTED');
    expect((error as SnnError).message).toContain('layernorm-to-spike');
    expect((error as SnnError).at).toContain('ln');
  });
});

// ── SpikeAttention ─────────────────────────────────────────────────────────────────────────────

interface AttnConfig {
  readonly name: string;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ropeTheta: number | null;
}

const ATTN_CONFIGS: readonly AttnConfig[] = [
  { name: 'GPT-2-like (MHA, no RoPE)', heads: 2, kvHeads: 2, headDim: 4, ropeTheta: null },
  { name: 'Llama-like (GQA 2:1, RoPE)', heads: 2, kvHeads: 1, headDim: 4, ropeTheta: 10000 },
];
const P = 2;
const L = P + S;
/** Batch row 1 has a padded (masked) past slot. */
const MASK = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1];

function attentionGraph(c: AttnConfig, T: number): Graph {
  const g = new GraphBuilder(OP_SPEC);
  g.addWeight({ name: 'pre.threshold', shape: [D], source: { kind: 'data', data: new Float32Array(D).fill(1.2) } });
  const spikes = g.op('Neuron', 'pre', ['x'], { attrs: { kind: 'SignedIF', levels: 2, site: 'pre' }, weights: { threshold: 'pre.threshold' } });
  const proj = (name: string, width: number, seed: number) => {
    g.addWeight({ name: `${name}.weight`, shape: [D, width], source: { kind: 'data', data: normals(D * width, seed, 0.6) } });
    return g.op('Linear', name, [spikes], { attrs: { inFeatures: D, outFeatures: width, transposed: false }, weights: { weight: `${name}.weight` } });
  };
  const q = proj('q', c.heads * c.headDim, 70);
  const k = proj('k', c.kvHeads * c.headDim, 71);
  const v = proj('v', c.kvHeads * c.headDim, 72);
  g.add('SpikeAttention', 'attn', [q, k, v, 'attention_mask', 'position_ids', 'past_key', 'past_value'], {
    attrs: { numHeads: c.heads, numKvHeads: c.kvHeads, headDim: c.headDim, ropeTheta: c.ropeTheta },
    outputs: ['attn.out', 'present_key', 'present_value'],
  });
  const kv = ['batch', c.kvHeads, 'past', c.headDim];
  const graph = g.build(
    [{ name: 'x', dtype: 'float32', shape: [B, S, D] }, { name: 'attention_mask', dtype: 'int64', shape: [B, L] }, { name: 'position_ids', dtype: 'int64', shape: [B, S] },
      { name: 'past_key', dtype: 'float32', shape: kv }, { name: 'past_value', dtype: 'float32', shape: kv }],
    [{ name: 'attn.out', dtype: 'float32', shape: [B, S, c.heads * c.headDim] }, { name: 'present_key', dtype: 'float32', shape: kv }, { name: 'present_value', dtype: 'float32', shape: kv }],
    SPIKING(T),
  );
  expect(verifyGraph(graph)).toEqual([]);
  return graph;
}

/** Head h's vector of token s in batch b, from a flat [B, S, heads·hd] step. */
const headVec = (row: readonly number[], b: number, s: number, h: number, heads: number, hd: number): number[] =>
  row.slice(((b * S + s) * heads + h) * hd, ((b * S + s) * heads + h + 1) * hd);

/**
 * docs/design.md §2 SpikeAttention, from the observed q/k/v steps: at step t, token j's query is m_t(q_j); it sees
 * the cached past, every other visible token's final m_T(k), m_T(v), and its own m_t(k_j), m_t(v_j).
 * Returns A_t for every step ([T][B·S·heads·hd]) and the final K, V (RoPE applied to K).
 */
function spikeAttentionReference(c: AttnConfig, T: number, q: Tensor, k: Tensor, v: Tensor, pastK: Float32Array, pastV: Float32Array) {
  const hd = c.headDim;
  const steps = (t: Tensor, width: number) => Array.from({ length: T }, (_, s) => Array.from(t.data.subarray(s * ROWS * width, (s + 1) * ROWS * width)));
  const [mq, mk, mv] = [[q, c.heads], [k, c.kvHeads], [v, c.kvHeads]].map(([t, h]) => runningMeans(steps(t as Tensor, (h as number) * hd)));
  const pos = (j: number) => P + j;
  const rot = (x: number[], p: number) => (c.ropeTheta === null ? x : rope(x, p, c.ropeTheta));
  const past = (data: Float32Array, b: number, kh: number, i: number) => Array.from(data.subarray(((b * c.kvHeads + kh) * P + i) * hd, ((b * c.kvHeads + kh) * P + i + 1) * hd));
  const A: number[][] = [];
  for (let t = 0; t < T; t++) {
    const row: number[] = [];
    for (let b = 0; b < B; b++) for (let j = 0; j < S; j++) for (let h = 0; h < c.heads; h++) {
      const kh = Math.floor(h / (c.heads / c.kvHeads));
      const keys: number[][] = [];
      const values: number[][] = [];
      const allowed: boolean[] = [];
      for (let i = 0; i < L; i++) {
        allowed.push(i <= pos(j) && MASK[b * L + i] === 1);
        if (i < P) { keys.push(past(pastK, b, kh, i)); values.push(past(pastV, b, kh, i)); continue; }
        const other = i - P;
        const step = other === j ? t : T - 1;
        keys.push(rot(headVec(mk![step]!, b, other, kh, c.kvHeads, hd), pos(other)));
        values.push(headVec(mv![step]!, b, other, kh, c.kvHeads, hd));
      }
      row.push(...attendOne(rot(headVec(mq![t]!, b, j, h, c.heads, hd), pos(j)), keys, values, allowed));
    }
    A.push(row);
  }
  const finalK: number[] = [];
  const finalV: number[] = [];
  for (let b = 0; b < B; b++) for (let kh = 0; kh < c.kvHeads; kh++) {
    for (let i = 0; i < P; i++) { finalK.push(...past(pastK, b, kh, i)); finalV.push(...past(pastV, b, kh, i)); }
    for (let j = 0; j < S; j++) {
      finalK.push(...rot(headVec(mk![T - 1]!, b, j, kh, c.kvHeads, hd), pos(j)));
      finalV.push(...headVec(mv![T - 1]!, b, j, kh, c.kvHeads, hd));
    }
  }
  return { A, finalK, finalV };
}

describe('SpikeAttention follows docs/design.md §2 on time-varying Q, K, V', () => {
  for (const c of ATTN_CONFIGS) {
    for (const T of [1, 3, 6]) {
      it(`${c.name}, T = ${T}, 2 cached tokens (one padded): per-step TD output, mean = attention on final means, cache = final K/V`, async () => {
        const kvDims = [B, c.kvHeads, P, c.headDim];
        const pastK = normals(B * c.kvHeads * P * c.headDim, 80, 0.8);
        const pastV = normals(B * c.kvHeads * P * c.headDim, 81, 0.8);
        const out = await runGraph(attentionGraph(c, T), 'snn', {
          x: [uniforms(ROWS * D, 90 + T, -2, 2), [B, S, D]],
          attention_mask: [ints(MASK), [B, L]],
          position_ids: [ints(Array.from({ length: B * S }, (_, i) => P + (i % S))), [B, S]],
          past_key: [pastK, kvDims],
          past_value: [pastV, kvDims],
        }, { observe: ['q', 'k', 'v', 'attn.out'] });
        const [q, k, v] = ['q', 'k', 'v'].map((n) => output(out, `observe/${n}`));
        const ref = spikeAttentionReference(c, T, q!, k!, v!, pastK, pastV);
        const y = output(out, 'observe/attn.out');
        expect(y.dims).toEqual([T, B, S, c.heads * c.headDim]);
        const width = c.heads * c.headDim;
        const yt = (s: number) => Array.from(y.data.subarray(s * ROWS * width, (s + 1) * ROWS * width));
        temporalDifference(ref.A).forEach((row, s) => expect(toleranceRatio(yt(s), row, 2e-5, 2e-5 * (s + 1)), `step ${s + 1}`).toBeLessThanOrEqual(1));
        expect(toleranceRatio(output(out, 'attn.out').data, ref.A[T - 1]!, 2e-5, 2e-5)).toBeLessThanOrEqual(1);
        expect(output(out, 'present_key').dims).toEqual([B, c.kvHeads, L, c.headDim]);
        expect(toleranceRatio(output(out, 'present_key').data, ref.finalK, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
        expect(toleranceRatio(output(out, 'present_value').data, ref.finalV, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
      });
    }
  }
});
