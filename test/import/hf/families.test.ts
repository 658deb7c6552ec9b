// OPT and Qwen2 through the HF importer, against their independent PyTorch references; every checkpoint layout transformers loads.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importHfModel } from '../../../src/import/hf/index.js';
import { loadHfAnn } from '../../../src/open/hf-ann.js';
import { evaluate } from '../../../src/runtime/evaluate.js';
import { openGraphSession } from '../../../src/open/graph-session.js';
import { windowInput } from '../../../src/runtime/windows.js';
import { FIXTURES, LLAMA_DIR, maxAbsDiff, narrow, readRawSafetensors, snnErrorOf, tempDir, writeRawSafetensors, type RawTensor } from '../../helpers.js';

const OPT_DIR = join(FIXTURES, 'opt-dialogue');
const QWEN2_DIR = join(FIXTURES, 'qwen2-dialogue');
const SMALL_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

interface LogitsRef { readonly input_ids: number[]; readonly positions: number[]; readonly logits: number[][] }
const logitsRef = (dir: string): LogitsRef => JSON.parse(readFileSync(join(dir, 'logits.json'), 'utf8')) as LogitsRef;

type Tensors = Map<string, RawTensor>;
/** A copy of a fixture folder with its tensors (and optionally its config) transformed; `shards` splits them over files. */
function variant(src: string, edit: (t: Tensors) => Tensors, config?: (c: Record<string, unknown>) => Record<string, unknown>, shards = 1): string {
  const dir = tempDir('snn-family-');
  for (const f of SMALL_FILES) copyFileSync(join(src, f), join(dir, f));
  if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config(JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>)));
  const tensors = [...edit(readRawSafetensors(readFileSync(join(src, 'model.safetensors'))))];
  if (shards === 1) { writeRawSafetensors(join(dir, 'model.safetensors'), new Map(tensors)); return dir; }
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const name = `model-0000${s + 1}-of-0000${shards}.safetensors`;
    const part = tensors.filter((_, i) => i % shards === s);
    for (const [k] of part) weightMap[k] = name;
    writeRawSafetensors(join(dir, name), new Map(part));
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return dir;
}

const rename = (f: (k: string) => string) => (t: Tensors): Tensors => new Map([...t].map(([k, v]) => [f(k), v]));

/** Logits at the reference positions of logits.json, from the imported graph run uncached. */
async function logitsAt(dir: string, ref: LogitsRef): Promise<number[][]> {
  const session = await openGraphSession(importHfModel(dir).graph, 'ann');
  const out = await session.run(windowInput(ref.input_ids, [0], ref.input_ids.length));
  await session.release();
  const V = out.logits.length / ref.input_ids.length;
  return ref.positions.map((p) => [...out.logits.subarray(p * V, (p + 1) * V)]);
}

async function expectReferenceLogits(dir: string, src: string, tol = 1e-4): Promise<void> {
  const ref = logitsRef(src);
  const got = await logitsAt(dir, ref);
  expect(maxAbsDiff(got.flat(), ref.logits.flat())).toBeLessThan(tol);
}

describe.each([['opt-dialogue', OPT_DIR], ['qwen2-dialogue', QWEN2_DIR]])('%s through the HF importer', (_name, dir) => {
  it('ANN perplexity on the whole held-out text equals eval.json (independent PyTorch forward) within 1e-5 relative', async () => {
    const ref = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as { ppl: number; tokens: number; windows: number; window: number; stride: number };
    const model = await loadHfAnn(dir);
    const ids = model.tokenizer.encode(readFileSync(join(dir, 'heldout.txt'), 'utf8'));
    const r = await evaluate(model, ids, { window: ref.window, stride: ref.stride, annOnly: true, batch: 16 });
    await model.release();
    expect([r.windows, r.tokens]).toEqual([ref.windows, ref.tokens]);
    expect(Math.abs(r.ann.ppl / ref.ppl - 1)).toBeLessThan(1e-5);
  }, 240_000);

  it('logits at three positions equal the reference forward\'s (logits.json) within 1e-4', async () => {
    await expectReferenceLogits(dir, dir);
  });
});

describe('checkpoint layouts transformers loads', () => {
  it('Qwen2: tied weights stored only as lm_head.weight, as both names, without the model. prefix, sharded', async () => {
    const headOnly = variant(QWEN2_DIR, (t) => {
      const out = new Map(t);
      out.set('lm_head.weight', out.get('model.embed_tokens.weight')!);
      out.delete('model.embed_tokens.weight');
      return out;
    });
    const both = variant(QWEN2_DIR, (t) => new Map([...t, ['lm_head.weight', t.get('model.embed_tokens.weight')!]]));
    const bare = variant(QWEN2_DIR, rename((k) => k.replace(/^model\./, '')));
    const sharded = variant(QWEN2_DIR, (t) => t, undefined, 3);
    for (const d of [headOnly, both, bare, sharded]) await expectReferenceLogits(d, QWEN2_DIR);
  });

  it('OPT: the original release\'s decoder. prefix, bare names, and an explicit lm_head.weight beside the table', async () => {
    const decoder = variant(OPT_DIR, rename((k) => k.replace(/^model\.decoder\./, 'decoder.')));
    const bare = variant(OPT_DIR, rename((k) => k.replace(/^model\.decoder\./, '')));
    const both = variant(OPT_DIR, (t) => new Map([...t, ['lm_head.weight', t.get('model.decoder.embed_tokens.weight')!]]));
    for (const d of [decoder, bare, both]) await expectReferenceLogits(d, OPT_DIR);
  });

  it('OPT with word_embed_proj_dim ≠ hidden_size: project_in / project_out (fixtures/opt-projected, its own reference)', async () => {
    const dir = join(FIXTURES, 'opt-projected');
    const g = importHfModel(dir).graph;
    expect(g.nodes.filter((n) => n.id.startsWith('project_')).map((n) => [n.id, n.attrs['inFeatures'], n.attrs['outFeatures']])).toEqual([['project_in', 64, 128], ['project_out', 128, 64]]);
    await expectReferenceLogits(dir, dir);
  });

  it('F16 and BF16 checkpoints of Qwen2 stay near the F32 reference (rounding only)', async () => {
    for (const dtype of ['F16', 'BF16'] as const) {
      const dir = variant(QWEN2_DIR, (t) => new Map([...t].map(([k, v]) => [k, { dtype, shape: v.shape, bytes: narrow(v.bytes, dtype) }])));
      await expectReferenceLogits(dir, QWEN2_DIR, dtype === 'F16' ? 0.05 : 0.3);
    }
  });

  it('a real Llama layout: tied embedding stored only as lm_head.weight, RMSNorm eps 1e-6 read from config', async () => {
    const dir = variant(LLAMA_DIR, (t) => {
      const out = new Map(t);
      out.set('lm_head.weight', out.get('model.embed_tokens.weight')!);
      out.delete('model.embed_tokens.weight');
      return out;
    }, (c) => ({ ...c, rms_norm_eps: 1e-6 }));
    const g = importHfModel(dir).graph;
    expect(g.nodes.filter((n) => n.op === 'RMSNorm').every((n) => n.attrs['eps'] === 1e-6)).toBe(true);
    expect(g.nodes.find((n) => n.id === 'lm_head')!.weights['weight']).toBe('embed_tokens.weight');
  });

  it('Qwen2 reads rope_theta and rms_norm_eps from config and puts biases on q/k/v only', () => {
    const g = importHfModel(QWEN2_DIR).graph;
    const attn = g.nodes.filter((n) => n.op === 'Attention');
    expect(attn.every((n) => n.attrs['ropeTheta'] === 1e6 && n.attrs['numKvHeads'] === 2)).toBe(true);
    expect(g.nodes.filter((n) => n.op === 'RMSNorm').every((n) => n.attrs['eps'] === 1e-6)).toBe(true);
    const biased = g.nodes.filter((n) => n.op === 'Linear' && n.weights['bias']).map((n) => n.id.split('.').slice(-1)[0]);
    expect([...new Set(biased)].sort()).toEqual(['k_proj', 'q_proj', 'v_proj']);
  });
});

describe('bad checkpoints and configs', () => {
  it('untied config without lm_head.weight → TENSOR_MISSING naming it', () => {
    const dir = variant(QWEN2_DIR, (t) => t, (c) => ({ ...c, tie_word_embeddings: false }));
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('TENSOR_MISSING');
    expect(e.message).toContain('lm_head.weight');
  });

  it('tensors contradicting the config → TENSOR_SHAPE naming the first mismatch, in one line', () => {
    const dir = variant(OPT_DIR, (t) => t, (c) => ({ ...c, ffn_dim: 256 }));
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('TENSOR_SHAPE');
    expect(e.message).toMatch(/: model\.decoder\.layers\.0\.fc1\.weight is \[512, 128\], config implies \[256, 128\] \(and \d+ more\)$/);
  });

  it('a family we do not convert → ARCH_UNSUPPORTED naming it and the supported ones', () => {
    const dir = variant(QWEN2_DIR, (t) => t, (c) => ({ ...c, model_type: 'mistral', architectures: ['MistralForCausalLM'] }));
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('ARCH_UNSUPPORTED');
    expect(e.message).toContain('"mistral" (MistralForCausalLM)');
    expect(e.message).toContain('gpt2, llama, opt, qwen2');
  });

  it.each([
    ['rope_scaling linear', QWEN2_DIR, { rope_scaling: { type: 'linear', factor: 2 } }, 'rope_scaling type "linear" is not supported'],
    ['rope_scaling llama3', LLAMA_DIR, { rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'rope_scaling type "llama3" is not supported'],
    ['post-LN OPT', OPT_DIR, { do_layer_norm_before: false }, 'post-LN OPT'],
    ['sliding-window Qwen2', QWEN2_DIR, { use_sliding_window: true }, 'sliding-window attention'],
  ])('%s → CONFIG_INVALID saying so by name', (_n, src, patch, text) => {
    const dir = variant(src, (t) => t, (c) => ({ ...c, ...patch }));
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain(text);
  });

  it('rope_scaling {"rope_type": "default"} is the plain rope and is accepted', async () => {
    await expectReferenceLogits(variant(QWEN2_DIR, (t) => t, (c) => ({ ...c, rope_scaling: { rope_type: 'default' } })), QWEN2_DIR);
  });

  it('a folder with a config and no weights → WEIGHTS_MISSING that mentions onnx/model.onnx', () => {
    const dir = tempDir('snn-empty-');
    for (const f of SMALL_FILES) copyFileSync(join(QWEN2_DIR, f), join(dir, f));
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('WEIGHTS_MISSING');
    expect(e.message).toContain('nor an ONNX export at onnx/model.onnx');
  });

  it('a pytorch_model.bin-only folder → WEIGHTS_MISSING telling how to get safetensors', () => {
    const dir = tempDir('snn-bin-');
    for (const f of SMALL_FILES) copyFileSync(join(QWEN2_DIR, f), join(dir, f));
    writeFileSync(join(dir, 'pytorch_model.bin'), 'PK\u0003\u0004 not read');
    const e = snnErrorOf(() => importHfModel(dir));
    expect(e.code).toBe('WEIGHTS_MISSING');
    expect(e.hint).toContain('save_pretrained');
    expect(e.hint).toContain('safe_serialization=True');
  });
});
