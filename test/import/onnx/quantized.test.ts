// Quantized exports (transformers.js model_quantized.onnx, QDQ, weight-only int4) are refused in one line naming the quantization and the fp32 file.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { convert } from '../../../src/convert.js';
import { importOnnxModel } from '../../../src/import/onnx/index.js';
import { FIXTURES, snnErrorOf, snnRejection, tempDir } from '../../helpers.js';

const { onnx } = onnxProto;
const QWEN2_DIR = join(FIXTURES, 'qwen2-dialogue');
const T = onnx.TensorProto.DataType;

/**
 * A logits head written as onnxruntime's quantize_dynamic writes a MatMul (DynamicQuantizeLinear on the
 * activation, MatMulInteger with int8 weights, a Cast and the rescale), or as QDQ (Quantize/DequantizeLinear).
 */
function quantizedHead(kind: 'dynamic' | 'qdq' | 'int4'): Uint8Array {
  const init = (name: string, dataType: number, dims: number[], raw: number[]) => ({ name, dataType, dims, rawData: new Uint8Array(raw) });
  const initializer = [
    init('w_q', T.INT8, [4, 257], new Array(4 * 257).fill(1)),
    init('w_zp', T.INT8, [], [0]),
    init('w_scale', T.FLOAT, [], [0, 0, 128, 63]),
  ];
  const nodes = {
    dynamic: [
      { opType: 'DynamicQuantizeLinear', name: '/lm_head/MatMul_quant', input: ['x'], output: ['xq', 'xs', 'xzp'] },
      { opType: 'MatMulInteger', name: '/lm_head/MatMul_int', input: ['xq', 'w_q', 'xzp', 'w_zp'], output: ['acc'] },
      { opType: 'Cast', name: 'cast', input: ['acc'], output: ['accf'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT }] },
      { opType: 'Mul', name: 'rescale', input: ['accf', 'w_scale'], output: ['logits'] },
    ],
    qdq: [
      { opType: 'DequantizeLinear', name: 'w_dq', input: ['w_q', 'w_scale', 'w_zp'], output: ['w'] },
      { opType: 'MatMul', name: '/lm_head/MatMul', input: ['x', 'w'], output: ['logits'] },
    ],
    int4: [
      { opType: 'MatMulNBits', domain: 'com.microsoft', name: '/lm_head/MatMulNBits', input: ['x', 'w_q', 'w_scale'], output: ['logits'] },
    ],
  }[kind];
  const model = {
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: 'quantized', node: nodes, initializer,
      input: [{ name: 'x', type: { tensorType: { elemType: T.FLOAT } } }],
      output: [{ name: 'logits', type: { tensorType: { elemType: T.FLOAT } } }],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
}

/** A transformers.js folder: config + tokenizer, onnx/model_quantized.onnx and, when `withFp32`, onnx/model.onnx. */
function folder(kind: 'dynamic' | 'qdq' | 'int4', withFp32: boolean): string {
  const dir = tempDir('snn-quant-');
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(QWEN2_DIR, f), join(dir, f));
  mkdirSync(join(dir, 'onnx'));
  writeFileSync(join(dir, 'onnx', 'model_quantized.onnx'), quantizedHead(kind));
  if (withFp32) copyFileSync(join(QWEN2_DIR, 'onnx', 'model.onnx'), join(dir, 'onnx', 'model.onnx'));
  return dir;
}

describe('quantized ONNX exports', () => {
  it.each([
    ['dynamic', 'dynamic int8 quantization (DynamicQuantizeLinear, MatMulInteger)'],
    ['qdq', 'QDQ quantization (DequantizeLinear)'],
    ['int4', 'weight-only 4/8-bit quantization (MatMulNBits)'],
  ] as const)('%s → ONNX_QUANTIZED in one short line naming it and the fp32 file beside it', (kind, named) => {
    const dir = folder(kind, true);
    const e = snnErrorOf(() => importOnnxModel(join(dir, 'onnx', 'model_quantized.onnx')));
    expect(e.code).toBe('ONNX_QUANTIZED');
    expect(e.message).toContain(`model_quantized.onnx uses ${named}; convert ${join(dir, 'onnx', 'model.onnx')} instead`);
    const line = e.render();
    expect(line).not.toContain('\n');
    expect(line.length).toBeLessThan(400);
  });

  it('without an fp32 file beside it, the refusal says how to get one', () => {
    const dir = folder('dynamic', false);
    const e = snnErrorOf(() => importOnnxModel(join(dir, 'onnx', 'model_quantized.onnx')));
    expect(e.message).toContain('convert the fp32 export (onnx/model.onnx) instead');
    expect(e.hint).toContain('optimum-cli export onnx');
  });

  it('converting a folder that holds only a quantized export gets the same refusal', async () => {
    const e = await snnRejection(convert(folder('dynamic', false), { out: join(tempDir(), 'x.snn') }));
    expect(e.code).toBe('ONNX_QUANTIZED');
  });
});

describe('ONNX_NOT_LIFTABLE fits on a screen', () => {
  it('counts the nodes left by op type, describes the first three, and keeps every node for --verbose (the cause)', () => {
    const dir = folder('dynamic', false);
    const m = onnx.ModelProto.decode(readFileSync(join(QWEN2_DIR, 'onnx', 'model.onnx')));
    for (const n of m.graph!.node!) if (n.opType === 'Softmax' || n.opType === 'Sigmoid') n.opType = `Fancy${n.opType}`;
    writeFileSync(join(dir, 'onnx', 'model.onnx'), onnx.ModelProto.encode(m).finish());
    const e = snnErrorOf(() => importOnnxModel(join(dir, 'onnx', 'model.onnx')));
    expect(e.code).toBe('ONNX_NOT_LIFTABLE');
    expect(e.message).toMatch(/^.*\d+ node\(s\) could not be lifted \(.*FancySoftmax ×3.*FancySigmoid ×3.*\); first: /);
    expect(e.message).toMatch(/; \d+ more with --verbose$/);
    expect(e.render().length).toBeLessThan(1500);
    const all = (e.cause as Error).message.split('\n').slice(1);
    expect(all.length).toBe(Number(/(\d+) node\(s\)/.exec(e.message)![1]));
    expect(all.filter((l) => l.includes('an unknown op'))).toHaveLength(6);
  });
});
