// onnxruntime's own GPT-2 test models: outside the supported opsets or fused into com.microsoft ops, each is refused by name.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOnnxOps } from '../../../src/import/onnx/generic.js';
import { importOnnxModel } from '../../../src/import/onnx/index.js';
import { OP_SPEC } from '../../harness/onnx-run.js';
import { FIXTURES, GPT2_DIR, snnErrorOf } from '../../helpers.js';

const DIR = join(FIXTURES, 'onnxruntime-models');

describe('onnxruntime test models', () => {
  it('a BERT toy (no config.json, opset 12) is refused as encoder-only with the causal-LM message', () => {
    const e = snnErrorOf(() => importOnnxModel(join(DIR, 'bert_toy_optimized.onnx')));
    expect(e.code).toBe('MODEL_TYPE_UNSUPPORTED');
    expect(e.message).toContain('encoder-only models are not supported: snnconvert converts causal LMs');
  });

  it('Megatron GPT-2 (opset 12) → ONNX_OPSET_UNSUPPORTED', () => {
    const e = snnErrorOf(() => importOnnxModel(join(DIR, 'gpt2_megatron.onnx'), { configDir: GPT2_DIR }));
    expect(e.code).toBe('ONNX_OPSET_UNSUPPORTED');
    expect(e.message).toContain('opset 12 (supported: 13–21)');
  });

  it('a GPT-2 block fused by onnxruntime: no logits output, and its nodes name com.microsoft::Attention as an unknown op', () => {
    const file = join(DIR, 'gpt2_attention_opt_no_skiplayernorm.onnx');
    expect(snnErrorOf(() => importOnnxModel(file, { configDir: GPT2_DIR })).code).toBe('ONNX_NO_LOGITS');
    const e = snnErrorOf(() => importOnnxOps(file, [], OP_SPEC));
    expect(e.code, e.message).toBe('ONNX_NOT_LIFTABLE');
    expect(e.message).toMatch(/\(com\.microsoft::Attention\), an unknown op, feeding .*graph output "present"/);
  });
});
