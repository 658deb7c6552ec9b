// Declared intermediate shapes (src/onnx/shapes.ts): the rules against the ONNX operator semantics, and every
// shape an emitted form declares against the shape onnxruntime actually produces when the form runs (each
// declared value exposed as an output; named dims bound from the feeds). A wrong declaration would let
// onnxruntime's planner hand a value a buffer of another size, so none may be wrong.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { withEmittedModel, type SessionOptions } from '../../src/open/graph-session.js';
import { ELEM, inferShapes, type ValueShape } from '../../src/onnx/shapes.js';
import { neuronsOf } from '../../src/ops/spiking.js';
import { readBundleGraph } from '../../src/report/source.js';
import type { Graph } from '../../src/ir/types.js';
import { GPT2_DIR, LLAMA_DIR, tempDir } from '../helpers.js';
import { FAST } from '../runtime/tsp-helpers.js';

const { onnx } = onnxProto;
const f = (...dims: (number | string | null)[]): ValueShape => ({ elem: ELEM.float, dims });
const ints = (...values: (number | string)[]): ValueShape => ({ elem: ELEM.int64, dims: [values.length], values });
const one = (op: string, inputs: (ValueShape | undefined | null)[], attrs: Record<string, unknown> = {}) => inferShapes(op, inputs, attrs, 1)[0];

describe('shape rules (ONNX operator semantics)', () => {
  it('broadcasts by numpy rules; dims named differently, or unknown, are not known', () => {
    expect(one('Add', [f('batch', 'seq', 8), f(8)])!.dims).toEqual(['batch', 'seq', 8]);
    expect(one('Mul', [f('batch', 1, 8), f(1, 'seq', 1)])!.dims).toEqual(['batch', 'seq', 8]);
    expect(one('Sub', [f('batch', 'seq', 8), f('batch', 'past', 8)])!.dims).toEqual(['batch', null, 8]);
    expect(one('Div', [f('batch', 'seq'), f(null, 'seq')])!.dims).toEqual([null, 'seq']);
    expect(one('Greater', [f('batch', 4), f()])!).toEqual({ elem: ELEM.bool, dims: ['batch', 4] });
    expect(one('Where', [{ elem: ELEM.bool, dims: ['batch', 1] }, f(1, 4), f()])!.dims).toEqual(['batch', 4]);
    expect(one('Add', [f('batch'), undefined])).toBeUndefined();
  });

  it('MatMul and MatMulInteger: batch dims broadcast, [M, K]·[K, N] → [M, N]; integer products are int32', () => {
    expect(one('MatMul', [f(2, 'batch', 'seq', 16), f(16, 32)])!.dims).toEqual([2, 'batch', 'seq', 32]);
    expect(one('MatMul', [f('batch', 4, 'seq', 8), f('batch', 4, 8, 'total')])!.dims).toEqual(['batch', 4, 'seq', 'total']);
    expect(one('MatMulInteger', [{ elem: ELEM.uint8, dims: ['batch', 'seq', 16] }, { elem: ELEM.int8, dims: [16, 4] }])).toEqual({ elem: ELEM.int32, dims: ['batch', 'seq', 4] });
    expect(one('MatMul', [f(8), f(8, 2)])).toBeUndefined();
    expect(one('Gemm', [f(null, 16), f(32, 16)], { transB: 1 })!.dims).toEqual([null, 32]);
    expect(one('Gemm', [f(16, 'n'), f(16, 32)], { transA: 1 })!.dims).toEqual(['n', 32]);
  });

  it('Reshape: 0 copies a dim, −1 is solved as a size or a product of names', () => {
    expect(one('Reshape', [f('batch', 'seq', 4, 8), ints(0, 0, 32)])!.dims).toEqual(['batch', 'seq', 32]);
    expect(one('Reshape', [f('batch', 'seq', 32), ints(0, -1, 4, 8)])!.dims).toEqual(['batch', 'seq', 4, 8]);
    expect(one('Reshape', [f('batch', 4, 'seq', 8), ints(0, 2, -1, 0)])!.dims).toEqual(['batch', 2, '2*seq', 8]);
    expect(one('Reshape', [f('batch', 6), ints(-1, 3)])!.dims).toEqual(['2*batch', 3]);
    expect(one('Reshape', [f('batch', 6), ints(-1, 4)])!.dims).toEqual([null, 4]);
    expect(one('Reshape', [f(null, 6), ints(-1, 3)])!.dims).toEqual([null, 3]);
    // Rows flattened to 2-D are named by the product of their names, and come back as they were.
    expect(one('Reshape', [f('seq', 'batch', 32), ints(-1, 32)])!.dims).toEqual(['batch*seq', 32]);
    expect(one('Reshape', [f('batch*seq', 32), ints(-1)])!.dims).toEqual(['32*batch*seq']);
    expect(one('Reshape', [f('32*batch*seq'), ints(-1, 'batch', 8)])!.dims).toEqual(['4*seq', 'batch', 8]);
    expect(one('Reshape', [f('32*batch*seq'), ints('batch', -1, 8)])!.dims).toEqual(['batch', '4*seq', 8]);
    expect(one('Reshape', [f('batch*seq', 32), ints(0, -1, 8)])!.dims).toEqual(['batch*seq', 4, 8]);
    expect(one('Reshape', [f('batch*seq', 4, 8), ints('batch', -1, 32)])!.dims).toEqual(['batch', 'seq', 32]);
    expect(one('Reshape', [f('batch', 6), ints(-1)])!.dims).toEqual(['6*batch']);
    expect(one('Reshape', [f('batch', 6), undefined])).toBeUndefined();
    // A target built from Shape keeps the names it read.
    const target = one('Shape', [f('batch', 4, 'seq', 8)])!;
    expect(target).toEqual({ elem: ELEM.int64, dims: [4], values: ['batch', 4, 'seq', 8] });
    expect(one('Reshape', [f('batch', 2, null, 8), target])!.dims).toEqual(['batch', 4, 'seq', 8]);
    expect(one('Shape', [f('batch', 4, 'seq')], { start: 1, end: -1 })!.values).toEqual([4]);
  });

  it('Concat sums sizes on its axis (a name there is not known) and keeps equal dims; 1-D integer values join', () => {
    expect(one('Concat', [f(1, 'batch', 8), f(1, 'batch', 8), f(1, 'batch', 8)], { axis: 0 })!.dims).toEqual([3, 'batch', 8]);
    expect(one('Concat', [f('batch', 2, 'past', 8), f('batch', 2, 'seq', 8)], { axis: 2 })!.dims).toEqual(['batch', 2, null, 8]);
    expect(one('Concat', [f('batch', 8), f('other', 8)], { axis: 1 })!.dims).toEqual([null, 16]);
    expect(one('Concat', [ints('batch', 'seq'), ints(32)], { axis: 0 })!.values).toEqual(['batch', 'seq', 32]);
    expect(one('Concat', [f(2, 3), f(2, 3, 1)], { axis: 0 })).toBeUndefined();
  });

  it('Split, Unsqueeze, Squeeze, Transpose, Gather, Slice, reductions', () => {
    expect(inferShapes('Split', [f(3, 'batch', 8)], { axis: 0 }, 3).map((s) => s?.dims)).toEqual([[1, 'batch', 8], [1, 'batch', 8], [1, 'batch', 8]]);
    expect(inferShapes('Split', [f(3, 'batch', 8), ints(1, 2)], { axis: 0 }, 2).map((s) => s?.dims)).toEqual([[1, 'batch', 8], [2, 'batch', 8]]);
    expect(inferShapes('Split', [f('batch', 8)], { axis: 0 }, 2)).toEqual([undefined, undefined]);
    expect(one('Unsqueeze', [f('batch', 8), ints(0, -1)])!.dims).toEqual([1, 'batch', 8, 1]);
    expect(one('Squeeze', [f(1, 'batch', 8), ints(0)])!.dims).toEqual(['batch', 8]);
    expect(one('Squeeze', [f('batch', 8), ints(0)])).toBeUndefined();
    expect(one('Transpose', [f('batch', 4, 'seq', 8)], { perm: [0, 2, 1, 3] })!.dims).toEqual(['batch', 'seq', 4, 8]);
    expect(one('Gather', [f(100, 16), { elem: ELEM.int64, dims: ['batch', 'seq'] }])!.dims).toEqual(['batch', 'seq', 16]);
    expect(one('Gather', [ints('batch', 'seq', 8), { elem: ELEM.int64, dims: [], values: [1] }])).toEqual({ elem: ELEM.int64, dims: [], values: ['seq'] });
    expect(one('Slice', [f('batch', 'seq', 8), ints(0), ints(2 ** 31 - 1), ints(1)])!.dims).toEqual(['batch', 'seq', 8]);
    expect(one('Slice', [f('batch', 'seq', 8), ints(0), ints(1), ints(-2)])!.dims).toEqual(['batch', null, 8]);
    expect(one('Slice', [f('batch', 'seq', 8), ints(2), ints(-1), ints(2)])!.dims).toEqual(['batch', 'seq', 5]);
    expect(one('Slice', [f('batch', 'seq', 8), ints(0), ints(8), undefined])).toBeUndefined();
    expect(one('Slice', [f('batch', 'seq', 8), ints(0), ints(4), ints(-1), null, null])!.dims).toEqual(['batch', 'seq', 4]);
    expect(one('ReduceSum', [f(8, 'batch', 'seq', 16), ints(0, 1, 2)], { keepdims: 0 })!.dims).toEqual([16]);
    expect(one('ReduceMean', [f('batch', 'seq', 16)], { axes: [-1] })!.dims).toEqual(['batch', 'seq', 1]);
    expect(one('ReduceSum', [f('batch', 16)])).toBeUndefined();
    expect(one('Cast', [f('batch', 4)], { to: ELEM.int32 })).toEqual({ elem: ELEM.int32, dims: ['batch', 4] });
    expect(one('Range', [{ elem: ELEM.int64, dims: [] }, { elem: ELEM.int64, dims: [] }, { elem: ELEM.int64, dims: [] }])!.dims).toEqual([null]);
    expect(one('TopK', [f('batch', 8), ints(2)])).toBeUndefined();
  });
});

/** Sizes fed for the named input dims: every name a different size, so a name declared in the wrong place shows. */
const SIZES: Record<string, number> = { batch: 2, seq: 3, past: 4, total: 7, slots: 5 };

/** Feeds for every graph input, sized by SIZES (the sampler's mask covers its slots and the new token). */
function feedsFor(model: onnxProto.onnx.IModelProto, vocab: number): Record<string, ort.Tensor> {
  const sampler = model.graph!.input!.some((i) => i.name === 'uniform');
  const sizes = sampler ? { ...SIZES, seq: 1, total: SIZES['slots']! + 1 } : SIZES;
  const feeds: Record<string, ort.Tensor> = {};
  let seed = 7;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const input of model.graph!.input!) {
    const dims = input.type!.tensorType!.shape!.dim!.map((d) => (d.dimParam ? sizes[d.dimParam]! : Number(d.dimValue)));
    expect(dims.every((d) => Number.isInteger(d)), `${input.name}: ${JSON.stringify(dims)}`).toBe(true);
    const n = dims.reduce((a, d) => a * d, 1);
    const name = input.name!;
    if (input.type!.tensorType!.elemType === ELEM.int64) {
      const data = name === 'attention_mask' ? new BigInt64Array(n).fill(1n)
        : name === 'position_ids' ? BigInt64Array.from({ length: n }, (_, i) => BigInt((sampler ? sizes['slots']! : sizes['past']!) + (i % dims[dims.length - 1]!)))
          : BigInt64Array.from({ length: n }, () => BigInt(Math.floor(next() * vocab)));
      feeds[name] = new ort.Tensor('int64', data, dims);
    } else {
      feeds[name] = new ort.Tensor('float32', Float32Array.from({ length: n }, () => (name === 'uniform' ? next() : next() - 0.5)), dims);
    }
  }
  return feeds;
}

/**
 * Emits `graph` with `opts`, exposes every declared intermediate value as an output, runs one call, and
 * returns how many declared values were checked; each must have the dims it declares (names bound by SIZES).
 */
async function checkDeclared(graph: Graph, mode: 'ann' | 'snn', opts: SessionOptions): Promise<number> {
  return withEmittedModel(graph, mode, opts, async (modelPath) => {
    const model = onnx.ModelProto.decode(readFileSync(modelPath));
    const declared = model.graph!.valueInfo!;
    const feeds = feedsFor(model, graph.spec.vocabSize);
    const sampler = 'uniform' in feeds;
    const sizes = sampler ? { ...SIZES, seq: 1, total: SIZES['slots']! + 1 } : SIZES;
    model.graph!.output!.push(...declared);
    const exposed = join(dirname(modelPath), 'exposed.onnx');
    writeFileSync(exposed, onnx.ModelProto.encode(model).finish());
    const session = await ort.InferenceSession.create(exposed, { graphOptimizationLevel: 'basic' });
    try {
      const out = await session.run(feeds);
      for (const v of declared) {
        // A name joined by '*' is the product of its parts (a flattened [batch, seq] is batch*seq rows; a numeric part is a factor).
        const size = (name: string) => name.split('*').reduce<number | string>((a, n) => (typeof a !== 'number' ? a : /^\d+$/.test(n) ? a * Number(n) : sizes[n] !== undefined ? a * sizes[n]! : `unbound ${name}`), 1);
        const want = v.type!.tensorType!.shape!.dim!.map((d) => (d.dimParam ? size(d.dimParam) : Number(d.dimValue)));
        expect(out[v.name!]?.dims, v.name!).toEqual(want);
      }
    } finally {
      await session.release();
    }
    return declared.length;
  });
}

describe.each([['gpt2', GPT2_DIR], ['llama (grouped-query attention)', LLAMA_DIR]])('%s: every declared shape is the one onnxruntime computes', (_, dir) => {
  let graph: Graph;
  beforeAll(async () => {
    graph = readBundleGraph((await convert(dir, { ...FAST, timesteps: 8, out: join(tempDir('snn-shapes-'), 'm.snn') })).bundlePath);
  });
  const site = () => neuronsOf(graph.nodes)[0]!.node.attrs['site'] as string;
  const forms: [string, 'ann' | 'snn', () => SessionOptions][] = [
    ['ANN', 'ann', () => ({})],
    ['closed SNN (integer synapses)', 'snn', () => ({})],
    ['spike counts with a raster site', 'snn', () => ({ spikeCounts: { planes: [site()] } })],
    ['step by step', 'snn', () => ({ execution: 'steps' })],
    ['portable (float synapses)', 'snn', () => ({ device: 'webgpu' })],
    ['W8A8 integer ANN', 'snn', () => ({ quantized: 'w8a8' })],
    ['observers only (calibration)', 'ann', () => ({ observe: neuronsOf(graph.nodes).map(({ node }) => node.inputs[0]!), observeOnly: true, multiRow: true })],
    ['observers and the K/V cache (calibration in chunks)', 'ann', () => ({ observe: neuronsOf(graph.nodes).map(({ node }) => node.inputs[0]!), observeOnly: 'cache' as const, multiRow: true })],
    ['calibration sampler', 'ann', () => ({ sampler: { temperature: 1 } })],
  ];
  it.each(forms)('%s', async (_, mode, opts) => {
    const checked = await checkDeclared(graph, mode, opts());
    // Most values are declared: a rule that stopped early would leave the planner quadratic again.
    expect(checked).toBeGreaterThan(100);
  });
});
