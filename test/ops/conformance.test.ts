// Per op: a one-node IR graph lowered by OUR lowering, run in onnxruntime, against ONNX's own conformance data.
// The expected outputs come from onnx/onnx's reference implementation (fixtures/onnx-conformance, PROVENANCE.md).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Attrs, Graph, ValueInfo } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { OP_SPEC, floatsOf, nodeAttributes, output, readTensorProto, runGraph, toleranceRatio, type Feed, type ProtoTensor } from '../harness/onnx-run.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'onnx-conformance');
const RTOL = 1e-5;
const ATOL = 1e-5;

interface Case {
  readonly inputs: ProtoTensor[];
  readonly outputs: ProtoTensor[];
  readonly attrs: Map<string, number | string>;
}

function load(test: string): Case {
  const data = join(DIR, test, 'test_data_set_0');
  const read = (kind: 'input' | 'output') => {
    const list: ProtoTensor[] = [];
    for (let i = 0; existsSync(join(data, `${kind}_${i}.pb`)); i++) list.push(readTensorProto(join(data, `${kind}_${i}.pb`)));
    return list;
  };
  return { inputs: read('input'), outputs: read('output'), attrs: nodeAttributes(join(DIR, test, 'model.onnx')) };
}

const at = <T>(list: readonly T[], i: number): T => {
  const v = list[i];
  if (v === undefined) throw new Error(`test setup: no element ${i}`);
  return v;
};

interface OneNode {
  readonly op: string;
  /** Graph inputs: name → tensor (float or int64), in node input order. */
  readonly inputs: readonly (readonly [string, ProtoTensor])[];
  readonly weights?: Readonly<Record<string, { readonly dims: readonly number[]; readonly data: Float32Array }>>;
  readonly attrs?: Attrs;
  readonly outputs?: readonly string[];
}

/** A graph holding one node of `op`: its inputs are graph inputs, its weights in-memory data. */
function oneNodeGraph(spec: OneNode, spiking = false): Graph {
  const g = new GraphBuilder(OP_SPEC);
  const roles: Record<string, string> = {};
  for (const [role, w] of Object.entries(spec.weights ?? {})) roles[role] = g.addWeight({ name: `w.${role}`, shape: [...w.dims], source: { kind: 'data', data: w.data } });
  const outputs = spec.outputs ?? ['y'];
  g.add(spec.op, 'node', spec.inputs.map(([name]) => name), { attrs: spec.attrs ?? {}, weights: roles, outputs });
  const inputs: ValueInfo[] = spec.inputs.map(([name, t]) => ({ name, dtype: t.int64 ? 'int64' : 'float32', shape: [...t.dims] }));
  const outs: ValueInfo[] = outputs.map((name) => ({ name, dtype: 'float32', shape: [] }));
  return g.build(inputs, outs, spiking ? { timesteps: 3, recipe: 'test', tdConvention: 'mean' } : undefined);
}

async function runOneNode(spec: OneNode, mode: 'ann' | 'snn' = 'ann') {
  const graph = oneNodeGraph(spec, mode === 'snn');
  expect(verifyGraph(graph)).toEqual([]);
  const feeds: Record<string, readonly [Feed, readonly number[]]> = {};
  for (const [name, t] of spec.inputs) feeds[name] = [t.int64 ?? floatsOf(t), t.dims];
  return runGraph(graph, mode, feeds);
}

/** Asserts our output matches the reference within rtol/atol (ratio ≤ 1) and has its shape. */
function expectClose(actual: { data: Float32Array; dims: readonly number[] }, expected: ArrayLike<number>, dims: readonly number[], rtol = RTOL, atol = ATOL): void {
  expect(actual.dims).toEqual([...dims]);
  expect(toleranceRatio(actual.data, expected, rtol, atol)).toBeLessThanOrEqual(1);
}

const weight = (t: ProtoTensor, dims: readonly number[] = t.dims) => ({ dims, data: floatsOf(t) });

describe('LayerNorm matches ONNX LayerNormalization (last axis)', () => {
  for (const test of ['test_layer_normalization_2d_axis_negative_1', 'test_layer_normalization_3d_axis_negative_1_epsilon']) {
    it(`${test}`, async () => {
      const c = load(test);
      expect(c.attrs.get('axis')).toBe(-1);
      const eps = (c.attrs.get('epsilon') as number | undefined) ?? 1e-5;
      const out = await runOneNode({ op: 'LayerNorm', inputs: [['X', at(c.inputs, 0)]], weights: { weight: weight(at(c.inputs, 1)), bias: weight(at(c.inputs, 2)) }, attrs: { eps } });
      expectClose(output(out, 'y'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims);
    });
  }
});

describe('RMSNorm matches ONNX RMSNormalization (opset-23 reference, our manual formula)', () => {
  for (const test of ['test_rms_normalization_2d_axis_negative_1', 'test_rms_normalization_3d_axis_negative_1_epsilon']) {
    it(`${test}`, async () => {
      const c = load(test);
      expect(c.attrs.get('axis')).toBe(-1);
      const eps = (c.attrs.get('epsilon') as number | undefined) ?? 1e-5;
      const out = await runOneNode({ op: 'RMSNorm', inputs: [['X', at(c.inputs, 0)]], weights: { weight: weight(at(c.inputs, 1)) }, attrs: { eps } });
      expectClose(output(out, 'y'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims);
    });
  }
});

describe('Gelu matches ONNX Gelu (opset-20 reference, our manual formulas)', () => {
  for (const test of ['test_gelu_default_1', 'test_gelu_default_2', 'test_gelu_tanh_1', 'test_gelu_tanh_2']) {
    it(`${test}`, async () => {
      const c = load(test);
      const approximate = c.attrs.get('approximate') ?? 'none';
      expect(approximate).toBe(test.includes('tanh') ? 'tanh' : 'none');
      const out = await runOneNode({ op: 'Gelu', inputs: [['x', at(c.inputs, 0)]], attrs: { approximate } });
      expectClose(output(out, 'y'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims);
    });
  }
});

describe('pointwise and elementwise ops match ONNX', () => {
  it('Relu matches test_relu', async () => {
    const c = load('test_relu');
    const out = await runOneNode({ op: 'Relu', inputs: [['x', at(c.inputs, 0)]] });
    expectClose(output(out, 'y'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims, 0, 0);
  });

  it('Silu equals x · sigmoid(x) with sigmoid from test_sigmoid', async () => {
    const c = load('test_sigmoid');
    const x = floatsOf(at(c.inputs, 0));
    const expected = floatsOf(at(c.outputs, 0)).map((s, i) => x[i]! * s);
    const out = await runOneNode({ op: 'Silu', inputs: [['x', at(c.inputs, 0)]] });
    expectClose(output(out, 'y'), expected, at(c.outputs, 0).dims);
  });

  for (const test of ['test_add', 'test_add_bcast']) {
    it(`Add matches ${test}`, async () => {
      const c = load(test);
      const out = await runOneNode({ op: 'Add', inputs: [['x', at(c.inputs, 0)], ['y', at(c.inputs, 1)]], outputs: ['sum'] });
      expectClose(output(out, 'sum'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims);
    });
  }

  it('Mul matches test_mul', async () => {
    const c = load('test_mul');
    const out = await runOneNode({ op: 'Mul', inputs: [['x', at(c.inputs, 0)], ['y', at(c.inputs, 1)]], outputs: ['z'] });
    expectClose(output(out, 'z'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims);
  });
});

/** [rows, cols] → [cols, rows]. */
function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

describe('Linear matches ONNX MatMul and Gemm', () => {
  it('Linear with W = B ([in, out]) matches test_matmul_2d', async () => {
    const c = load('test_matmul_2d');
    const [inF, outF] = at(c.inputs, 1).dims as [number, number];
    const out = await runOneNode({ op: 'Linear', inputs: [['a', at(c.inputs, 0)]], weights: { weight: weight(at(c.inputs, 1)) }, attrs: { inFeatures: inF, outFeatures: outF, transposed: false } });
    expectClose(output(out, 'y'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims);
  });

  it('transposed Linear with W = Bᵀ ([out, in], the Gemm transB path) matches test_matmul_2d', async () => {
    const c = load('test_matmul_2d');
    const [inF, outF] = at(c.inputs, 1).dims as [number, number];
    const w = { dims: [outF, inF], data: transpose2d(floatsOf(at(c.inputs, 1)), inF, outF) };
    const out = await runOneNode({ op: 'Linear', inputs: [['a', at(c.inputs, 0)]], weights: { weight: w }, attrs: { inFeatures: inF, outFeatures: outF, transposed: true } });
    expectClose(output(out, 'y'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims);
  });

  it('Linear with a bias matches test_gemm_default_vector_bias', async () => {
    const c = load('test_gemm_default_vector_bias');
    const [inF, outF] = at(c.inputs, 1).dims as [number, number];
    const out = await runOneNode({
      op: 'Linear', inputs: [['a', at(c.inputs, 0)]],
      weights: { weight: weight(at(c.inputs, 1)), bias: weight(at(c.inputs, 2), [outF]) },
      attrs: { inFeatures: inF, outFeatures: outF, transposed: false },
    });
    expectClose(output(out, 'y'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims);
  });

  it('transposed Linear with a bias matches test_gemm_transposeB', async () => {
    const c = load('test_gemm_transposeB');
    expect(c.attrs.get('transB')).toBe(1);
    const [outF, inF] = at(c.inputs, 1).dims as [number, number];
    const out = await runOneNode({
      op: 'Linear', inputs: [['a', at(c.inputs, 0)]],
      weights: { weight: weight(at(c.inputs, 1)), bias: weight(at(c.inputs, 2), [outF]) },
      attrs: { inFeatures: inF, outFeatures: outF, transposed: true },
    });
    expectClose(output(out, 'y'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims);
  });
});

describe('Embedding matches ONNX Gather (axis 0)', () => {
  for (const mode of ['ann', 'snn'] as const) {
    it(`test_gather_0 (${mode} lowering)`, async () => {
      const c = load('test_gather_0');
      expect(c.attrs.get('axis')).toBe(0);
      const out = await runOneNode({ op: 'Embedding', inputs: [['indices', at(c.inputs, 1)]], weights: { table: weight(at(c.inputs, 0)) } }, mode);
      expectClose(output(out, 'y'), floatsOf(at(c.outputs, 0)), at(c.outputs, 0).dims, 0, 0);
    });
  }
});

// ── attention ──────────────────────────────────────────────────────────────────────────────────
// ONNX's 4-D Attention takes Q/K/V as [B, heads, S, hd]; our IR op takes [B, S, heads·hd] (HF layout):
// the harness only re-lays the data out. ONNX's causal mask with a past is bottom-right aligned
// (query j sees keys ≤ P + j), which is our Attention's rule.

/** [B, H, S, hd] → [B, S, H·hd]. */
function headsToRows(x: Float32Array, [B, H, S, hd]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < B!; b++) for (let h = 0; h < H!; h++) for (let s = 0; s < S!; s++) for (let c = 0; c < hd!; c++) {
    out[((b * S! + s) * H! + h) * hd! + c] = x[((b * H! + h) * S! + s) * hd! + c]!;
  }
  return out;
}

/** Keys [from, to) of a [B, H, L, hd] tensor. */
function sliceKeys(x: Float32Array, [B, H, L, hd]: readonly number[], from: number, to: number): Float32Array {
  const out: number[] = [];
  for (let b = 0; b < B!; b++) for (let h = 0; h < H!; h++) for (let i = from; i < to; i++) for (let c = 0; c < hd!; c++) out.push(x[((b * H! + h) * L! + i) * hd! + c]!);
  return Float32Array.from(out);
}

const floatTensor = (name: string, dims: readonly number[], data: Float32Array): ProtoTensor => ({ name, dims, float: data, int64: null });
const intTensor = (name: string, dims: readonly number[], data: readonly number[]): ProtoTensor => ({ name, dims, float: null, int64: BigInt64Array.from(data.map(BigInt)) });

interface AttentionProblem {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly inputs: readonly (readonly [string, ProtoTensor])[];
  /** Expected Y in our layout [B, S, H·hd], and (optionally) present K/V as ONNX gives them. */
  readonly y: { readonly data: Float32Array; readonly dims: readonly number[] };
  readonly present?: readonly [ProtoTensor, ProtoTensor];
}

/** test_attention_4d_causal_with_past_and_present: MHA, 4 new tokens after 3 cached ones, causal. */
function mhaWithPast(): AttentionProblem {
  const c = load('test_attention_4d_causal_with_past_and_present');
  expect(c.attrs.get('is_causal')).toBe(1);
  const [q, k, v, pk, pv] = [0, 1, 2, 3, 4].map((i) => at(c.inputs, i));
  const [B, H, S, hd] = q!.dims as [number, number, number, number];
  const KH = k!.dims[1]!;
  const P = pk!.dims[2]!;
  const y = at(c.outputs, 0);
  return {
    heads: H, kvHeads: KH, headDim: hd,
    inputs: [
      ['q', floatTensor('q', [B, S, H * hd], headsToRows(floatsOf(q!), q!.dims))],
      ['k', floatTensor('k', [B, S, KH * hd], headsToRows(floatsOf(k!), k!.dims))],
      ['v', floatTensor('v', [B, S, KH * hd], headsToRows(floatsOf(v!), v!.dims))],
      ['attention_mask', intTensor('attention_mask', [B, P + S], new Array<number>(B * (P + S)).fill(1))],
      ['position_ids', intTensor('position_ids', [B, S], Array.from({ length: B * S }, (_, i) => P + (i % S)))],
      ['past_key', pk!], ['past_value', pv!],
    ],
    y: { data: headsToRows(floatsOf(y), y.dims), dims: [B, S, H * hd] },
    present: [at(c.outputs, 1), at(c.outputs, 2)],
  };
}

/**
 * test_attention_4d_gqa_causal_nonpad_decode: GQA (4 query heads on 2 KV heads), one query token
 * over 8 key slots of which the first nonpad_kv_seqlen[b] are valid. In our contract the last slot is
 * the new token, the first 7 the past, and the valid slots are attention_mask = 1.
 */
function gqaDecode(): AttentionProblem {
  const c = load('test_attention_4d_gqa_causal_nonpad_decode');
  expect(c.attrs.get('is_causal')).toBe(1);
  const [q, k, v, nonpad] = [0, 1, 2, 3].map((i) => at(c.inputs, i));
  const [B, H, S, hd] = q!.dims as [number, number, number, number];
  const [, KH, L] = k!.dims as [number, number, number];
  const valid = Array.from(nonpad!.int64 ?? [], Number);
  const y = at(c.outputs, 0);
  const pastDims = [B, KH, L - 1, hd];
  return {
    heads: H, kvHeads: KH, headDim: hd,
    inputs: [
      ['q', floatTensor('q', [B, S, H * hd], headsToRows(floatsOf(q!), q!.dims))],
      ['k', floatTensor('k', [B, S, KH * hd], headsToRows(sliceKeys(floatsOf(k!), k!.dims, L - 1, L), [B, KH, 1, hd]))],
      ['v', floatTensor('v', [B, S, KH * hd], headsToRows(sliceKeys(floatsOf(v!), v!.dims, L - 1, L), [B, KH, 1, hd]))],
      ['attention_mask', intTensor('attention_mask', [B, L], Array.from({ length: B * L }, (_, i) => (i % L < valid[Math.floor(i / L)]! ? 1 : 0)))],
      ['position_ids', intTensor('position_ids', [B, S], new Array<number>(B * S).fill(L - 1))],
      ['past_key', floatTensor('past_key', pastDims, sliceKeys(floatsOf(k!), k!.dims, 0, L - 1))],
      ['past_value', floatTensor('past_value', pastDims, sliceKeys(floatsOf(v!), v!.dims, 0, L - 1))],
    ],
    y: { data: headsToRows(floatsOf(y), y.dims), dims: [B, S, H * hd] },
  };
}

describe('Attention matches ONNX Attention (opset 24 reference)', () => {
  const cases: readonly (readonly [string, () => AttentionProblem])[] = [
    ['MHA with past and present, causal (test_attention_4d_causal_with_past_and_present)', mhaWithPast],
    ['GQA decode over padded keys (test_attention_4d_gqa_causal_nonpad_decode)', gqaDecode],
  ];
  for (const [name, problem] of cases) {
    for (const [op, mode] of [['Attention', 'ann'], ['SpikeAttention', 'snn']] as const) {
      it(`${op} (${mode}${mode === 'snn' ? ', input constant over T = 3' : ''}): ${name}`, async () => {
        const p = problem();
        const out = await runOneNode({
          op, inputs: p.inputs, outputs: ['y', 'present_key', 'present_value'],
          attrs: { numHeads: p.heads, numKvHeads: p.kvHeads, headDim: p.headDim, ropeTheta: null },
        }, mode);
        expectClose(output(out, 'y'), p.y.data, p.y.dims);
        if (p.present) {
          // The ANN cache is a copy (exact); the spiking cache is the mean over T of a constant (float32 rounding).
          const tol = mode === 'ann' ? 0 : 1e-6;
          expectClose(output(out, 'present_key'), floatsOf(p.present[0]), p.present[0].dims, tol, tol);
          expectClose(output(out, 'present_value'), floatsOf(p.present[1]), p.present[1].dims, tol, tol);
        }
      });
    }
  }
});
