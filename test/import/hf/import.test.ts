// HF import of GPT-2 and Llama: real layouts, dtypes, shards, and every bad input the issue names.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importHfModel } from '../../../src/import/hf/index.js';
import { type ModelSession } from '../../../src/runtime/session.js';
import { openGraphSession } from '../../../src/open/graph-session.js';
import { windowInput } from '../../../src/runtime/windows.js';
import { GPT2_DIR, LLAMA_DIR, maxAbsDiff, narrow, readRawSafetensors, referenceLogits, snnErrorOf, tempDir, writeRawSafetensors, type RawTensor } from '../../helpers.js';

const TEXT = readFileSync(join(GPT2_DIR, 'heldout.txt'));
const IDS = [...TEXT.subarray(0, 64)];
const SMALL_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/** A copy of a fixture model folder with its tensors transformed (rename, drop, add, change dtype). */
function variant(src: string, edit: (t: Map<string, RawTensor>) => Map<string, RawTensor>, config?: (c: Record<string, unknown>) => Record<string, unknown>): string {
  const dir = tempDir('snn-variant-');
  for (const f of SMALL_FILES) copyFileSync(join(src, f), join(dir, f));
  if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config(JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>)));
  writeRawSafetensors(join(dir, 'model.safetensors'), edit(readRawSafetensors(readFileSync(join(src, 'model.safetensors')))));
  return dir;
}

async function logitsOf(dir: string): Promise<Float32Array> {
  const session: ModelSession = await openGraphSession(importHfModel(dir).graph, 'ann');
  const out = await session.run(windowInput(IDS, [0], IDS.length));
  await session.release();
  return out.logits;
}

describe('HF import (GPT-2)', () => {
  let reference: Float32Array;
  beforeAll(async () => { reference = await referenceLogits(GPT2_DIR, IDS); });

  it('reproduces the logits of the model\'s own ONNX export', async () => {
    expect(maxAbsDiff(await logitsOf(GPT2_DIR), reference)).toBeLessThan(1e-4);
  });

  it('reads the layout without the transformer. prefix and with attn.bias / attn.masked_bias buffers', async () => {
    const dir = variant(GPT2_DIR, (t) => {
      const out = new Map([...t].map(([k, v]) => [k.replace(/^transformer\./, ''), v]));
      for (let i = 0; i < 4; i++) {
        out.set(`h.${i}.attn.bias`, { dtype: 'F32', shape: [1, 1, 2, 2], bytes: new Uint8Array(16) });
        out.set(`h.${i}.attn.masked_bias`, { dtype: 'F32', shape: [], bytes: new Uint8Array(4) });
      }
      return out;
    });
    expect(maxAbsDiff(await logitsOf(dir), reference)).toBeLessThan(1e-4);
  });

  it('uses an explicit lm_head.weight when embeddings are not tied', async () => {
    const dir = variant(GPT2_DIR, (t) => {
      const wte = t.get('transformer.wte.weight')!;
      const scaled = new Float32Array(wte.bytes.slice().buffer).map((v) => v * 2);
      return new Map([...t, ['lm_head.weight', { ...wte, bytes: new Uint8Array(scaled.buffer) }]]);
    }, (c) => ({ ...c, tie_word_embeddings: false }));
    const logits = await logitsOf(dir);
    // A head of 2·wte doubles every logit of the tied model.
    expect(maxAbsDiff(logits, reference.map((v) => v * 2))).toBeLessThan(2e-4);
  });

  it.each(['F16', 'BF16'] as const)('reads %s weights (converted exactly to F32)', async (dtype) => {
    const dir = variant(GPT2_DIR, (t) => new Map([...t].map(([k, v]) => [k, { dtype, shape: v.shape, bytes: narrow(v.bytes, dtype) }])));
    const diff = maxAbsDiff(await logitsOf(dir), reference);
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(dtype === 'F16' ? 0.05 : 0.5);
  });

  it('reads a sharded checkpoint (model.safetensors.index.json)', async () => {
    const dir = tempDir('snn-sharded-');
    for (const f of SMALL_FILES) copyFileSync(join(GPT2_DIR, f), join(dir, f));
    const all = readRawSafetensors(readFileSync(join(GPT2_DIR, 'model.safetensors')));
    const names = [...all.keys()];
    const shards = [names.slice(0, 20), names.slice(20)];
    const weightMap: Record<string, string> = {};
    shards.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeRawSafetensors(join(dir, file), new Map(part.map((n) => [n, all.get(n)!])));
      for (const n of part) weightMap[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    expect(maxAbsDiff(await logitsOf(dir), reference)).toBeLessThan(1e-4);
  });
});

describe('HF import (Llama)', () => {
  it('reproduces the logits of the model\'s own ONNX export (RMSNorm, SwiGLU, RoPE, GQA, tied head)', async () => {
    expect(maxAbsDiff(await logitsOf(LLAMA_DIR), await referenceLogits(LLAMA_DIR, IDS))).toBeLessThan(1e-4);
  });
});

describe('HF import: bad input', () => {
  it('a folder without config.json → CONFIG_MISSING naming the file', () => {
    const e = snnErrorOf(() => importHfModel(tempDir()));
    expect(e.code).toBe('CONFIG_MISSING');
    expect(e.at).toMatch(/config\.json$/);
  });

  it('config.json that is not JSON → CONFIG_INVALID', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), '{"model_type": "gpt2",');
    expect(snnErrorOf(() => importHfModel(dir)).code).toBe('CONFIG_INVALID');
  });

  it('config.json with invalid fields → CONFIG_INVALID listing every field', () => {
    const dir = variant(GPT2_DIR, (t) => t, (c) => ({ ...c, n_layer: -1, n_head: 'four' }));
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('n_layer');
    expect(e.message).toContain('n_head');
  });

  it('an unknown model_type → ARCH_UNSUPPORTED listing the supported ones', () => {
    const dir = variant(GPT2_DIR, (t) => t, (c) => ({ ...c, model_type: 'mamba' }));
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('ARCH_UNSUPPORTED');
    expect(e.message).toContain('gpt2');
    expect(e.message).toContain('llama');
    expect(e.message).toContain('mamba');
  });

  it('a tensor whose shape differs from what the config implies → TENSOR_SHAPE naming it', () => {
    const dir = variant(GPT2_DIR, (t) => t, (c) => ({ ...c, n_inner: 256 }));
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('TENSOR_SHAPE');
    expect(e.message).toContain('transformer.h.0.mlp.c_fc.weight');
  });

  it('a missing tensor → TENSOR_MISSING naming it', () => {
    const dir = variant(GPT2_DIR, (t) => { t.delete('transformer.ln_f.bias'); return t; });
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('TENSOR_MISSING');
    expect(e.message).toContain('ln_f.bias');
  });

  it('NaN/Inf weights are refused, or converted with a warning under allowNonFinite', () => {
    const dir = variant(GPT2_DIR, (t) => {
      const w = t.get('transformer.h.1.mlp.c_fc.bias')!;
      const f = new Float32Array(w.bytes.slice().buffer);
      f[3] = Number.NaN;
      f[7] = Number.POSITIVE_INFINITY;
      t.set('transformer.h.1.mlp.c_fc.bias', { ...w, bytes: new Uint8Array(f.buffer) });
      return t;
    });
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('TENSOR_NONFINITE');
    expect(e.message).toContain('transformer.h.1.mlp.c_fc.bias has 2 NaN/Inf');
    const warnings: string[] = [];
    expect(() => importHfModel(dir, { allowNonFinite: true, onWarning: (w) => warnings.push(w) })).not.toThrow();
    expect(warnings.join()).toContain('c_fc.bias');
  });

  it('a truncated safetensors file → SAFETENSORS_INVALID naming the file', () => {
    const dir = variant(GPT2_DIR, (t) => t);
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, readFileSync(path).subarray(0, 100_000));
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('SAFETENSORS_INVALID');
    expect(e.at).toContain('model.safetensors');
  });

});
