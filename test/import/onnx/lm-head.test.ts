// Tied and untied LM heads: a head equal to the embedding table transposed is tied; any other head is lm_head.weight.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { importHfModel } from '../../../src/import/hf/index.js';
import { weightData } from '../../../src/weights/weight-data.js';
import { importOnnxModel } from '../../../src/import/onnx/index.js';
import { LLAMA_DIR, readRawSafetensors, tempDir, writeRawSafetensors } from '../../helpers.js';

const { onnx } = onnxProto;

describe('LM head', () => {
  it('the shared exports are tied: lm_head reads the embedding table and there is no lm_head.weight', () => {
    const g = importOnnxModel(join(LLAMA_DIR, 'onnx', 'model.onnx')).graph;
    expect(g.nodes.find((n) => n.id === 'lm_head')!.weights).toEqual({ weight: 'embed_tokens.weight' });
    expect(g.weights.has('lm_head.weight')).toBe(false);
  });

  it('an untied head lifts to the IR the checkpoint importer builds for lm_head.weight (values [V, D], transposed)', () => {
    const dir = tempDir();
    // The export, with a head of its own: the embedding table transposed, scaled by 0.5 and shifted.
    const m = onnx.ModelProto.decode(readFileSync(join(LLAMA_DIR, 'onnx', 'model.onnx')));
    const headNode = m.graph!.node!.find((n) => n.output!.includes('logits'))!;
    const init = m.graph!.initializer!.find((t) => t.name === headNode.input![1])!;
    const inOut = new Float32Array(new Uint8Array(init.rawData!).slice().buffer);
    const changed = inOut.map((x, i) => 0.5 * x + (i % 7) * 1e-3);
    init.rawData = new Uint8Array(changed.buffer);
    mkdirSync(join(dir, 'onnx'));
    writeFileSync(join(dir, 'onnx', 'model.onnx'), onnx.ModelProto.encode(m).finish());
    // The checkpoint with the same head, untied: lm_head.weight is [V, D].
    const [D, V] = [128, 257];
    const vd = new Float32Array(V * D);
    for (let i = 0; i < D; i++) for (let j = 0; j < V; j++) vd[j * D + i] = changed[i * V + j]!;
    const tensors = readRawSafetensors(readFileSync(join(LLAMA_DIR, 'model.safetensors')));
    tensors.set('lm_head.weight', { dtype: 'F32', shape: [V, D], bytes: new Uint8Array(vd.buffer) });
    writeRawSafetensors(join(dir, 'model.safetensors'), tensors);
    const config = JSON.parse(readFileSync(join(LLAMA_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: false }));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(LLAMA_DIR, f), join(dir, f));

    const fromOnnx = importOnnxModel(join(dir, 'onnx', 'model.onnx')).graph;
    const fromCkpt = importHfModel(dir).graph;
    expect(fromOnnx.nodes).toEqual(fromCkpt.nodes);
    expect(fromOnnx.nodes.find((n) => n.id === 'lm_head')!.weights).toEqual({ weight: 'lm_head.weight' });
    expect(weightData(fromOnnx.weights.get('lm_head.weight')!)).toEqual(weightData(fromCkpt.weights.get('lm_head.weight')!));
  });
});
