// Bad ONNX input (#11 acceptance): each is refused with a typed error naming what and where, and nothing is written.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { convert } from '../../../src/convert.js';
import type { ErrorCode } from '../../../src/errors/index.js';
import { importHfModel } from '../../../src/import/hf/index.js';
import { weightData } from '../../../src/weights/weight-data.js';
import { importOnnxModel } from '../../../src/import/onnx/index.js';
import { GPT2_DIR, snnErrorOf, snnRejection, tempDir } from '../../helpers.js';

const { onnx } = onnxProto;
const EXPORT = join(GPT2_DIR, 'onnx', 'model.onnx');
const WTE = 'm.transformer.wte.weight';

/** A model folder (config + tokenizer) holding a changed copy of the GPT-2 export; returns the .onnx path. */
function variant(change: (m: onnxProto.onnx.ModelProto, dir: string) => void, config?: Record<string, unknown>): string {
  const dir = tempDir();
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(GPT2_DIR, f), join(dir, f));
  if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const m = onnx.ModelProto.decode(readFileSync(EXPORT));
  change(m, dir);
  writeFileSync(join(dir, 'model.onnx'), onnx.ModelProto.encode(m).finish());
  return join(dir, 'model.onnx');
}

const nodeNamed = (m: onnxProto.onnx.ModelProto, name: string) => m.graph!.node!.find((n) => n.name === name)!;
const initializer = (m: onnxProto.onnx.ModelProto, name: string) => m.graph!.initializer!.find((t) => t.name === name)!;

/** Moves an initializer's bytes into `location` (written unless `write` is false). */
function externalize(m: onnxProto.onnx.ModelProto, dir: string, name: string, location: string, write = true): void {
  const t = initializer(m, name);
  const bytes = t.rawData!;
  if (write) writeFileSync(join(dir, location), bytes);
  t.rawData = new Uint8Array();
  t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  t.externalData = [{ key: 'location', value: location }, { key: 'offset', value: '0' }, { key: 'length', value: String(bytes.length) }];
}

/** convert() must reject with `code`, leaving the output folder as it was. */
async function refuses(onnxPath: string, code: ErrorCode): Promise<string> {
  const outDir = tempDir();
  const e = await snnRejection(convert(onnxPath, { out: join(outDir, 'x.snn'), calibration: { samples: 1, length: 16 } }));
  expect(e.code, e.message).toBe(code);
  expect(readdirSync(outDir)).toEqual([]);
  return `${e.message} @ ${e.at ?? ''}`;
}

describe('ONNX bad input', () => {
  it('a truncated protobuf → ONNX_INVALID', async () => {
    const dir = tempDir();
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(GPT2_DIR, f), join(dir, f));
    const bytes = readFileSync(EXPORT);
    writeFileSync(join(dir, 'model.onnx'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    expect(await refuses(join(dir, 'model.onnx'), 'ONNX_INVALID')).toMatch(/truncated/);
  });

  it('a missing external data file → ONNX_EXTERNAL_DATA naming the tensor and file', async () => {
    const msg = await refuses(variant((m, dir) => externalize(m, dir, WTE, 'weights.bin', false)), 'ONNX_EXTERNAL_DATA');
    expect(msg).toContain(WTE);
    expect(msg).toContain('weights.bin');
  });

  it('external data pointing outside the model folder → ONNX_EXTERNAL_DATA, even when the file exists', async () => {
    const path = variant((m, dir) => {
      mkdirSync(join(dir, 'inner'));
      externalize(m, dir, WTE, 'outside.bin');
    });
    // Move the model one level down so "outside.bin" is now "../outside.bin" from its folder.
    const inner = join(path, '..', 'inner');
    const m = onnx.ModelProto.decode(readFileSync(path));
    initializer(m, WTE).externalData![0]!.value = '../outside.bin';
    writeFileSync(join(inner, 'model.onnx'), onnx.ModelProto.encode(m).finish());
    expect(await refuses(join(inner, 'model.onnx'), 'ONNX_EXTERNAL_DATA')).toMatch(/outside the model's folder/);
  });

  it('external data inside the folder is read, and the weights equal the checkpoint', () => {
    const path = variant((m, dir) => externalize(m, dir, WTE, 'weights.bin'));
    const imported = importOnnxModel(path);
    expect(imported.weightFiles.map((f) => f.split('/').pop())).toEqual(['model.onnx', 'weights.bin']);
    const expected = weightData(importHfModel(GPT2_DIR).graph.weights.get('wte.weight')!);
    expect(weightData(imported.graph.weights.get('wte.weight')!)).toEqual(expected);
  });

  it.each([12, 22])('opset %i → ONNX_OPSET_UNSUPPORTED stating the supported range', async (version) => {
    const msg = await refuses(variant((m) => { m.opsetImport = [{ domain: '', version }]; }), 'ONNX_OPSET_UNSUPPORTED');
    expect(msg).toContain(`opset ${version}`);
    expect(msg).toContain('13–21');
  });

  it('a graph without a logits output → ONNX_NO_LOGITS listing its outputs', async () => {
    const msg = await refuses(variant((m) => {
      const head = m.graph!.node!.find((n) => n.output!.includes('logits'))!;
      head.output = ['scores'];
      m.graph!.output![0]!.name = 'scores';
    }), 'ONNX_NO_LOGITS');
    expect(msg).toContain('"scores"');
  });

  it('a cycle → ONNX_INVALID naming nodes on it', async () => {
    const msg = await refuses(variant((m) => {
      // The first LayerNorm now reads the output of the last residual Add, which depends on it.
      nodeNamed(m, '/m/h.0/ln_1/ReduceMean').input = ['/m/h.3/Add_3_output_0'];
    }), 'ONNX_INVALID');
    expect(msg).toMatch(/cycle through .*ReduceMean/);
  });

  it('a missing initializer → TENSOR_MISSING naming it and the node that reads it', async () => {
    const msg = await refuses(variant((m) => {
      m.graph!.initializer = m.graph!.initializer!.filter((t) => t.name !== 'm.transformer.h.0.ln_1.weight');
    }), 'TENSOR_MISSING');
    expect(msg).toContain('m.transformer.h.0.ln_1.weight');
    expect(msg).toContain('/m/h.0/ln_1/Mul');
  });

  it('unknown ops → one ONNX_NOT_LIFTABLE listing every such node, its op, what it feeds and the nearest pattern', async () => {
    const msg = await refuses(variant((m) => {
      nodeNamed(m, '/m/h.0/Tanh').opType = 'FancyTanh';
      const sm = nodeNamed(m, '/m/h.2/attn/Softmax');
      sm.opType = 'Softmax2';
      sm.domain = 'com.example';
    }), 'ONNX_NOT_LIFTABLE');
    expect(msg).toContain(`"/m/h.0/Tanh" (FancyTanh), an unknown op, feeding Add "/m/h.0/Add_2"`);
    expect(msg).toContain('com.example::Softmax2');
    expect(msg).toContain('(com.example::Softmax2), an unknown op, feeding MatMul "/m/h.2/attn/MatMul_1"; nearest: no rule lifts com.example::Softmax2');
    // The GELU around the unknown op almost matched: the report says which pattern and why not.
    expect(msg).toContain('gelu-decomposed: 0.5·x·(1 + FancyTanh(…)): GELU needs Erf or Tanh there');
  });

  it('a weight holding NaN → TENSOR_NONFINITE naming the IR weight, as for checkpoints', async () => {
    const msg = await refuses(variant((m) => {
      const t = initializer(m, 'm.transformer.h.1.ln_2.bias');
      const data = new Float32Array(new Uint8Array(t.rawData!).slice().buffer);
      data[3] = NaN;
      t.rawData = new Uint8Array(data.buffer);
    }), 'TENSOR_NONFINITE');
    expect(msg).toContain('h.1.ln_2.bias has 1 NaN/Inf values');
  });

  it('an attention without a causal mask (bidirectional) is not lifted: the report says no causal mask was found', async () => {
    const msg = await refuses(variant((m) => {
      // Layer 0's scores skip the causal Where and keep only the padding mask.
      nodeNamed(m, '/m/h.0/attn/Add').input![0] = '/m/h.0/attn/Div_output_0';
    }), 'ONNX_NOT_LIFTABLE');
    expect(msg).toContain('attention: no causal mask');
    expect(msg).toMatch(/"\/m\/h\.0\/attn\/Softmax" \(Softmax\)/);
  });

  it('an encoder-only model (BERT config) is refused with the causal-LM message', async () => {
    const msg = await refuses(variant(() => undefined, { model_type: 'bert', vocab_size: 257, hidden_size: 128 }), 'MODEL_TYPE_UNSUPPORTED');
    expect(msg).toContain('encoder-only models are not supported: snnconvert converts causal LMs');
  });

  it('an encoder-shaped graph (token_type_ids in, last_hidden_state out) gets the same message', async () => {
    const msg = await refuses(variant((m) => {
      m.graph!.input!.push({ name: 'token_type_ids' });
      const head = m.graph!.node!.find((n) => n.output!.includes('logits'))!;
      head.output = ['last_hidden_state'];
      m.graph!.output![0]!.name = 'last_hidden_state';
    }), 'MODEL_TYPE_UNSUPPORTED');
    expect(msg).toContain('encoder-only models are not supported');
  });

  it('a bare ONNX file with no config.json beside it or above says what is missing and how to give it', () => {
    const dir = join(tempDir(), 'a', 'b');
    mkdirSync(dir, { recursive: true });
    copyFileSync(EXPORT, join(dir, 'model.onnx'));
    const e = snnErrorOf(() => importOnnxModel(join(dir, 'model.onnx')));
    expect(e.code).toBe('CONFIG_MISSING');
    expect(e.hint).toContain('--tokenizer DIR');
    expect(importOnnxModel(join(dir, 'model.onnx'), { configDir: GPT2_DIR }).graph.nodes).toHaveLength(49);
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
  });
});
