// ONNX's own operator conformance cases through OUR importer (read → fold → lift) and the ANN emitter, against output_0.pb.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { importOnnxOps } from '../../../src/import/onnx/generic.js';
import type { ValueInfo } from '../../../src/ir/types.js';
import { OP_SPEC, floatsOf, output, readTensorProto, runGraph, toleranceRatio, type Feed, type ProtoTensor } from '../../harness/onnx-run.js';
import { snnErrorOf, tempDir } from '../../helpers.js';

const { onnx } = onnxProto;
const DIR = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'onnx-conformance');

function tensors(test: string, kind: 'input' | 'output'): ProtoTensor[] {
  const data = join(DIR, test, 'test_data_set_0');
  const list: ProtoTensor[] = [];
  for (let i = 0; existsSync(join(data, `${kind}_${i}.pb`)); i++) list.push(readTensorProto(join(data, `${kind}_${i}.pb`)));
  return list;
}

/**
 * The conformance model with the inputs named in `constant` turned into initializers (an IR op holds
 * its weights as constants, as an exported model does) and only its first output kept.
 */
function prepare(test: string, constant: readonly string[]) {
  const m = onnx.ModelProto.decode(readFileSync(join(DIR, test, 'model.onnx')));
  const g = m.graph!;
  const ins = tensors(test, 'input');
  const names = g.input!.map((v) => v.name!);
  names.forEach((name, i) => {
    if (!constant.includes(name)) return;
    const t = ins[i]!;
    g.initializer!.push({ name, dims: [...t.dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(floatsOf(t).buffer.slice(0)) });
  });
  g.input = g.input!.filter((v) => !constant.includes(v.name!));
  g.output = g.output!.slice(0, 1);
  g.node![0]!.output = g.node![0]!.output!.slice(0, 1);
  const path = join(tempDir(), 'model.onnx');
  writeFileSync(path, onnx.ModelProto.encode(m).finish());
  const feeds: Record<string, readonly [Feed, readonly number[]]> = {};
  const inputs: ValueInfo[] = [];
  names.forEach((name, i) => {
    if (constant.includes(name)) return;
    feeds[name] = [floatsOf(ins[i]!), ins[i]!.dims];
    inputs.push({ name, dtype: 'float32', shape: [...ins[i]!.dims] });
  });
  return { path, feeds, inputs, expected: tensors(test, 'output')[0]!, outputName: g.output[0]!.name! };
}

const LIFTED: readonly (readonly [string, string, readonly string[]])[] = [
  ['test_layer_normalization_2d_axis_negative_1', 'LayerNorm', ['W', 'B']],
  ['test_layer_normalization_3d_axis_negative_1_epsilon', 'LayerNorm', ['W', 'B']],
  ['test_layer_normalization_4d_axis_negative_1', 'LayerNorm', ['W', 'B']],
  ['test_layer_normalization_default_axis', 'LayerNorm', ['W', 'B']],
  ['test_gelu_default_1', 'Gelu', []],
  ['test_gelu_default_2', 'Gelu', []],
  ['test_gelu_tanh_1', 'Gelu', []],
  ['test_gelu_tanh_2', 'Gelu', []],
  // ONNX's own decomposition of Gelu (CastLike, Sum, Erf / Tanh, Pow): the decomposed GELU rule.
  ['test_gelu_default_1_expanded', 'Gelu', []],
  ['test_gelu_default_2_expanded', 'Gelu', []],
  ['test_gelu_tanh_1_expanded', 'Gelu', []],
  ['test_gelu_tanh_2_expanded', 'Gelu', []],
  ['test_matmul_2d', 'Linear', ['b']],
  ['test_gemm_default_vector_bias', 'Linear', ['b', 'c']],
  ['test_gemm_transposeB', 'Linear', ['b', 'c']],
  ['test_gemm_default_no_bias', 'Linear', ['b']],
];

describe('ONNX conformance cases lifted and run through the ANN emitter', () => {
  it.each(LIFTED)('%s lifts to one %s (constant inputs %j) and matches the reference output', async (test, op, constant) => {
    const c = prepare(test, constant);
    const graph = importOnnxOps(c.path, c.inputs, OP_SPEC);
    expect(graph.nodes.map((n) => n.op)).toEqual([op]);
    const y = output(await runGraph(graph, 'ann', c.feeds), c.outputName);
    expect(y.dims).toEqual(c.expected.dims);
    expect(toleranceRatio(y.data, floatsOf(c.expected), 1e-5, 1e-5)).toBeLessThanOrEqual(1);
  });
});

describe('ONNX conformance cases the IR has no op for are refused, each naming the op and why', () => {
  it.each([
    ['test_softmax_example', [], /"y" \(Softmax\)|\(Softmax\).*nearest: attention: /],
    ['test_where_example', [], /\(Where\)/],
    ['test_expand_dim_changed', [], /\(Expand\)/],
    ['test_layer_normalization_2d_axis0', ['W', 'B'], /layernorm-op: LayerNormalization over axis 0/],
    ['test_gemm_alpha', ['b', 'c'], /linear-gemm: Gemm with alpha ≠ 1/],
  ] as const)('%s → ONNX_NOT_LIFTABLE', (test, constant, why) => {
    const path = constant.length > 0 ? prepare(test, constant).path : join(DIR, test, 'model.onnx');
    const e = snnErrorOf(() => importOnnxOps(path, [], OP_SPEC));
    expect(e.code).toBe('ONNX_NOT_LIFTABLE');
    expect(e.message).toMatch(why);
  });
});
