// Attention forms other exporters write, made from the GPT-2 export by graph surgery: the scale split over Q and Kᵀ (torch SDPA).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { importHfModel } from '../../../src/import/hf/index.js';
import { importOnnxModel } from '../../../src/import/onnx/index.js';
import { GPT2_DIR, maxAbsDiff, referenceLogits, tempDir } from '../../helpers.js';

const { onnx } = onnxProto;

/** Layer `i` of the export with its 1/√hd score scale moved onto Q and Kᵀ as hd^(−1/4) each (as SDPA exports do). */
function splitScale(m: onnxProto.onnx.ModelProto, i: number, factor = 32 ** -0.25): void {
  const g = m.graph!;
  const nodes = g.node!;
  const qk = nodes.findIndex((n) => n.name === `/m/h.${i}/attn/MatMul`);
  const div = nodes.find((n) => n.name === `/m/h.${i}/attn/Div`)!;
  const one = `one.${i}`, s = `s.${i}`;
  g.initializer!.push({ name: one, dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [1] });
  g.initializer!.push({ name: s, dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [factor] });
  div.input = [div.input![0]!, one];
  const [q, k] = nodes[qk]!.input!;
  nodes.splice(qk, 0, { name: `qs.${i}`, opType: 'Mul', input: [q!, s], output: [`qs.${i}`] }, { name: `ks.${i}`, opType: 'Mul', input: [k!, s], output: [`ks.${i}`] });
  nodes[qk + 2]!.input = [`qs.${i}`, `ks.${i}`];
}

describe('attention variants', () => {
  it('a score scale split over Q and Kᵀ lifts to the same IR, and onnxruntime agrees with the original export', async () => {
    const dir = tempDir();
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(GPT2_DIR, f), join(dir, f));
    const m = onnx.ModelProto.decode(readFileSync(join(GPT2_DIR, 'onnx', 'model.onnx')));
    for (let i = 0; i < 4; i++) splitScale(m, i);
    const path = join(dir, 'onnx', 'model.onnx');
    mkdirSync(join(dir, 'onnx'));
    writeFileSync(path, onnx.ModelProto.encode(m).finish());
    const ids = [...Buffer.from('To be, or not to be')];
    expect(maxAbsDiff(await referenceLogits(dir, ids), await referenceLogits(GPT2_DIR, ids))).toBeLessThan(1e-4);
    expect(importOnnxModel(path).graph.nodes).toEqual(importHfModel(GPT2_DIR).graph.nodes);
  });

  it('a wrong split scale is caught: the report names the scale it found', () => {
    const dir = tempDir();
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(GPT2_DIR, f), join(dir, f));
    const m = onnx.ModelProto.decode(readFileSync(join(GPT2_DIR, 'onnx', 'model.onnx')));
    splitScale(m, 1, 0.5);
    writeFileSync(join(dir, 'model.onnx'), onnx.ModelProto.encode(m).finish());
    let message = '';
    try { importOnnxModel(join(dir, 'model.onnx')); } catch (e) { message = (e as Error).message; }
    expect(message).toContain('attention: scores scaled by 0.25, not 1/√32');
  });
});
