// OPT and Qwen2 torch exports (opset 14, 17, optimum-style merged decoder) lift to the checkpoint IR; transformers.js folders.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { importHfModel } from '../../../src/import/hf/index.js';
import { importOnnxModel } from '../../../src/import/onnx/index.js';
import { onnxOnlyFolderModel } from '../../../src/import/onnx/source.js';
import { HfAnnModel } from '../../../src/open/hf-ann.js';
import { evaluate } from '../../../src/runtime/evaluate.js';
import { loadTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { weightData } from '../../../src/weights/weight-data.js';
import { FIXTURES, maxAbsDiff, tempDir } from '../../helpers.js';

const OPT_DIR = join(FIXTURES, 'opt-dialogue');
const QWEN2_DIR = join(FIXTURES, 'qwen2-dialogue');
const EXPORTS = join(FIXTURES, 'onnx-families');
const CASES = [
  ['opt opset 14', join(OPT_DIR, 'onnx', 'model.onnx'), OPT_DIR],
  ['opt opset 17', join(EXPORTS, 'opt-dialogue-opset17.onnx'), OPT_DIR],
  ['opt merged decoder', join(EXPORTS, 'opt-dialogue-decoder_model_merged.onnx'), OPT_DIR],
  ['qwen2 opset 14', join(QWEN2_DIR, 'onnx', 'model.onnx'), QWEN2_DIR],
  ['qwen2 opset 17', join(EXPORTS, 'qwen2-dialogue-opset17.onnx'), QWEN2_DIR],
  ['qwen2 merged decoder', join(EXPORTS, 'qwen2-dialogue-decoder_model_merged.onnx'), QWEN2_DIR],
] as const;

interface LogitsRef { readonly input_ids: number[]; readonly positions: number[]; readonly logits: number[][] }

/** onnxruntime running the export itself, one row, no past (the merged decoder on its cache branch). */
async function ortLogits(file: string, dir: string): Promise<number[][]> {
  const ref = JSON.parse(readFileSync(join(dir, 'logits.json'), 'utf8')) as LogitsRef;
  const spec = importHfModel(dir).graph.spec;
  const S = ref.input_ids.length;
  const session = await ort.InferenceSession.create(file);
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ref.input_ids.map(BigInt)), [1, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ref.input_ids.map((_, i) => BigInt(i))), [1, S]),
  };
  for (let l = 0; l < spec.numLayers; l++) for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, spec.numKvHeads, 0, spec.headDim]);
  if (session.inputNames.includes('use_cache_branch')) feeds['use_cache_branch'] = new ort.Tensor('bool', [true], [1]);
  const out = (await session.run(feeds, ['logits']))['logits']!.data as Float32Array;
  await session.release();
  const V = out.length / S;
  return ref.positions.map((p) => [...out.subarray(p * V, (p + 1) * V)]);
}

describe.each(CASES)('%s', (name, file, dir) => {
  it('runs in onnxruntime with the reference forward\'s logits (logits.json, within 1e-4)', async () => {
    const ref = JSON.parse(readFileSync(join(dir, 'logits.json'), 'utf8')) as LogitsRef;
    expect(maxAbsDiff((await ortLogits(file, dir)).flat(), ref.logits.flat())).toBeLessThan(1e-4);
  });

  it('lifts to the IR of the checkpoint: same nodes and bit-identical weights', () => {
    const notices: string[] = [];
    const fromOnnx = importOnnxModel(file, { configDir: dir, onWarning: (m) => notices.push(m) });
    const fromCkpt = importHfModel(dir).graph;
    expect(fromOnnx.graph.nodes).toEqual(fromCkpt.nodes);
    expect([...fromOnnx.graph.weights.keys()].sort()).toEqual([...fromCkpt.weights.keys()].sort());
    for (const [w, weight] of fromCkpt.weights) {
      expect(Buffer.from(weightData(fromOnnx.graph.weights.get(w)!).buffer).equals(Buffer.from(weightData(weight).buffer)), w).toBe(true);
    }
    if (name.includes('merged')) expect(notices).toEqual([expect.stringMatching(/^notice: merged decoder: took the then branch of If "optimum::if" \(on use_cache_branch\), the decoder with past_key_values$/)]);
    else expect(notices).toEqual([]);
  });
});

describe.each([['opt', OPT_DIR], ['qwen2', QWEN2_DIR]])('%s onnx/model.onnx', (_n, dir) => {
  it('reproduces eval.json within 1e-5 relative on the whole held-out text', async () => {
    const ref = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as { ppl: number; windows: number };
    const imported = importOnnxModel(join(dir, 'onnx', 'model.onnx'), { configDir: dir });
    const model = new HfAnnModel(imported, await loadTokenizer(dir), 'cpu');
    const ids = model.tokenizer.encode(readFileSync(join(dir, 'heldout.txt'), 'utf8'));
    const r = await evaluate(model, ids, { window: 128, stride: 128, annOnly: true, batch: 16 });
    await model.release();
    expect(r.windows).toBe(ref.windows);
    expect(Math.abs(r.ann.ppl / ref.ppl - 1)).toBeLessThan(1e-5);
  }, 240_000);
});

describe('transformers.js / optimum folders', () => {
  /** A folder with config + tokenizer and the given ONNX files under onnx/ (copied from `files`: name → source). */
  function folder(files: Record<string, string>): string {
    const dir = tempDir('snn-tjs-');
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(QWEN2_DIR, f), join(dir, f));
    mkdirSync(join(dir, 'onnx'));
    for (const [n, src] of Object.entries(files)) copyFileSync(src, join(dir, 'onnx', n));
    return dir;
  }
  const fp32 = join(QWEN2_DIR, 'onnx', 'model.onnx');
  const merged = join(EXPORTS, 'qwen2-dialogue-decoder_model_merged.onnx');

  it('onnx/model.onnx is picked over model_quantized.onnx, model_fp16.onnx and the merged decoder', () => {
    const dir = folder({ 'model_fp16.onnx': fp32, 'model_quantized.onnx': fp32, 'decoder_model_merged.onnx': merged, 'model.onnx': fp32 });
    expect(onnxOnlyFolderModel(dir)).toBe(join(dir, 'onnx', 'model.onnx'));
  });

  it('a folder with only decoder_model_merged.onnx converts from it', () => {
    const dir = folder({ 'decoder_model_merged.onnx': merged });
    const file = onnxOnlyFolderModel(dir)!;
    expect(file).toBe(join(dir, 'onnx', 'decoder_model_merged.onnx'));
    expect(importOnnxModel(file).graph.nodes).toEqual(importHfModel(QWEN2_DIR).graph.nodes);
  });
});
