// ONNX import parity (#11): the shared models' torch exports (opset 14) lift to the very IR the checkpoint importer builds,
// run like the exported graph itself in onnxruntime, reproduce eval.json, and convert to identical bundles.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert } from '../../../src/convert.js';
import { importHfModel } from '../../../src/import/hf/index.js';
import { weightData } from '../../../src/weights/weight-data.js';
import { importOnnxModel } from '../../../src/import/onnx/index.js';
import { loadTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { evaluate } from '../../../src/runtime/evaluate.js';
import { loadBundle } from '../../../src/runtime/model.js';
import { HfAnnModel } from '../../../src/open/hf-ann.js';
import { runGraph } from '../../harness/onnx-run.js';
import { GPT2_DIR, LLAMA_DIR, maxAbsDiff, referenceLogits, tempDir } from '../../helpers.js';

const MODELS = [['gpt2', GPT2_DIR], ['llama', LLAMA_DIR]] as const;
const exportOf = (dir: string) => join(dir, 'onnx', 'model.onnx');

describe.each(MODELS)('%s torch export (opset 14)', (arch, dir) => {
  it('lifts to the same IR as the checkpoint: same nodes, attributes, I/O and bit-identical weights', () => {
    const fromOnnx = importOnnxModel(exportOf(dir)).graph;
    const fromCkpt = importHfModel(dir).graph;
    expect(fromOnnx.nodes).toEqual(fromCkpt.nodes);
    expect(fromOnnx.inputs).toEqual(fromCkpt.inputs);
    expect(fromOnnx.outputs).toEqual(fromCkpt.outputs);
    expect([...fromOnnx.weights.keys()].sort()).toEqual([...fromCkpt.weights.keys()].sort());
    for (const [name, w] of fromCkpt.weights) {
      const other = fromOnnx.weights.get(name)!;
      expect(other.shape, name).toEqual(w.shape);
      expect(Buffer.from(weightData(other).buffer).equals(Buffer.from(weightData(w).buffer)), name).toBe(true);
    }
  });

  it('names the rules that lifted it (attention, norms, activations, linears, embeddings)', () => {
    const { lifted } = importOnnxModel(exportOf(dir));
    expect(lifted['attention']).toBe(4);
    if (arch === 'gpt2') expect(lifted).toMatchObject({ 'layernorm-decomposed': 9, 'gelu-decomposed': 4, 'split-last-axis': 4, 'embedding-gather': 2 });
    else expect(lifted).toMatchObject({ 'rmsnorm-decomposed': 9, silu: 4, 'mul-activations': 4, 'embedding-gather': 1 });
  });

  it('its lifted ANN gives the logits onnxruntime gives for the export itself (within 1e-4)', async () => {
    const ids = [...Buffer.from('ROMEO:\nBut soft, what light through yonder window breaks?')];
    const graph = importOnnxModel(exportOf(dir)).graph;
    const S = ids.length;
    const feeds: Record<string, readonly [Float32Array | BigInt64Array, readonly number[]]> = {
      input_ids: [BigInt64Array.from(ids.map(BigInt)), [1, S]],
      attention_mask: [new BigInt64Array(S).fill(1n), [1, S]],
      position_ids: [BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, S]],
    };
    for (const v of graph.inputs) if (v.name.startsWith('past_key_values')) feeds[v.name] = [new Float32Array(0), [1, graph.spec.numKvHeads, 0, graph.spec.headDim]];
    const ours = (await runGraph(graph, 'ann', feeds)).get('logits')!.data;
    const reference = await referenceLogits(dir, ids);
    expect(maxAbsDiff(ours, reference)).toBeLessThan(1e-4);
  });

  it('reproduces the PyTorch perplexity of eval.json within 1e-5 relative on the whole held-out text', async () => {
    const evalJson = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as { ppl: number; tokens: number };
    const imported = importOnnxModel(exportOf(dir));
    const model = new HfAnnModel(imported, await loadTokenizer(imported.dir), 'cpu');
    const r = await evaluate(model, [...readFileSync(join(dir, 'heldout.txt'))], { window: 128, annOnly: true });
    await model.release();
    expect(r.tokens).toBe(evalJson.tokens);
    expect(Math.abs(r.ann.ppl / evalJson.ppl - 1)).toBeLessThan(1e-5);
  }, 120_000);
});

describe('converting an export', () => {
  it('gives the same SNN as converting the checkpoint: identical weights, graph and logits', async () => {
    const out = tempDir();
    const calibration = { samples: 2, length: 64 };
    const a = await convert(exportOf(LLAMA_DIR), { out: join(out, 'onnx.snn'), calibration });
    const b = await convert(LLAMA_DIR, { out: join(out, 'ckpt.snn'), calibration });
    for (const f of ['weights.safetensors', 'model.onnx', 'graph.json']) {
      expect(readFileSync(join(a.bundlePath, f)).equals(readFileSync(join(b.bundlePath, f))), f).toBe(true);
    }
    const [ba, bb] = [await loadBundle(a.bundlePath), await loadBundle(b.bundlePath)];
    const ids = [...Buffer.from('Good morrow, cousin.')];
    const [ra, rb] = [await evaluate(ba, ids, { window: ids.length }), await evaluate(bb, ids, { window: ids.length })];
    expect(ra.snn!.ppl).toBe(rb.snn!.ppl);
    expect(ra.ann.ppl).toBe(rb.ann.ppl);
    await ba.release(); await bb.release();
  }, 120_000);

  it('takes config and tokenizer from --tokenizer DIR for a bare ONNX file', async () => {
    const dir = tempDir();
    copyFileSync(exportOf(GPT2_DIR), join(dir, 'model.onnx'));
    const { bundlePath } = await convert(join(dir, 'model.onnx'), { tokenizer: GPT2_DIR, out: join(dir, 'out.snn'), recipe: 'exact', calibration: { samples: 1, length: 32 } });
    expect(readFileSync(join(bundlePath, 'tokenizer.json')).equals(readFileSync(join(GPT2_DIR, 'tokenizer.json')))).toBe(true);
  }, 120_000);

  it('accepts a transformers.js folder whose only weights are onnx/model.onnx, config and tokenizer beside it', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'onnx'));
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(GPT2_DIR, f), join(dir, f));
    copyFileSync(exportOf(GPT2_DIR), join(dir, 'onnx', 'model.onnx'));
    const { bundlePath } = await convert(dir, { out: join(dir, 'out.snn'), recipe: 'exact', calibration: { samples: 1, length: 32 } });
    const meta = JSON.parse(readFileSync(join(bundlePath, 'meta.json'), 'utf8')) as { source: { sha256: Record<string, string> } };
    expect(Object.keys(meta.source.sha256).sort()).toEqual(['config.json', 'model.onnx']);
  }, 120_000);
});
