// Opset-17 torch re-exports of the shared models (fixtures/onnx-reexports, LayerNormalization as one op): same IR, same perplexity.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { importHfModel } from '../../../src/import/hf/index.js';
import { weightData } from '../../../src/weights/weight-data.js';
import { importOnnxModel } from '../../../src/import/onnx/index.js';
import { loadTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { evaluate } from '../../../src/runtime/evaluate.js';
import { HfAnnModel } from '../../../src/open/hf-ann.js';
import { runGraph } from '../../harness/onnx-run.js';
import { FIXTURES, GPT2_DIR, LLAMA_DIR, maxAbsDiff, referenceLogits } from '../../helpers.js';

const { onnx } = onnxProto;
const REEXPORTS = [
  ['shakespeare-gpt2-opset17.onnx', GPT2_DIR],
  ['shakespeare-llama-opset17.onnx', LLAMA_DIR],
  ['shakespeare-llama-opset17-ropecache.onnx', LLAMA_DIR], // RoPE by Gather from cos/sin caches
] as const;
const IDS = [...Buffer.from('KING RICHARD III:\nNow is the winter of our discontent')];

/** Logits onnxruntime computes for `file` itself, one row, no past. */
async function logitsOf(file: string, layers: number, kvHeads: number, headDim: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  const S = IDS.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(IDS.map(BigInt)), [1, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(IDS.map((_, i) => BigInt(i))), [1, S]),
  };
  for (let l = 0; l < layers; l++) for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  const out = await session.run(feeds, ['logits']);
  await session.release();
  return out['logits']!.data as Float32Array;
}

describe.each(REEXPORTS)('%s', (file, dir) => {
  const path = join(FIXTURES, 'onnx-reexports', file);

  it('is an opset-17 torch export (GPT-2: nn.LayerNorm as LayerNormalization nodes)', () => {
    const m = onnx.ModelProto.decode(readFileSync(path));
    expect(Number(m.opsetImport.find((o) => !o.domain)?.version)).toBe(17);
    const lns = m.graph!.node!.filter((n) => n.opType === 'LayerNormalization').length;
    expect(lns).toBe(dir === GPT2_DIR ? 9 : 0);
  });

  it('runs in onnxruntime like the original opset-14 export (logits within 1e-4)', async () => {
    const spec = importHfModel(dir).graph.spec;
    const ours = await logitsOf(path, spec.numLayers, spec.numKvHeads, spec.headDim);
    expect(maxAbsDiff(ours, await referenceLogits(dir, IDS))).toBeLessThan(1e-4);
  });

  it('lifts to the IR of the checkpoint: same nodes and bit-identical weights', () => {
    const fromOnnx = importOnnxModel(path, { configDir: dir });
    const fromCkpt = importHfModel(dir).graph;
    if (dir === GPT2_DIR) expect(fromOnnx.lifted['layernorm-op']).toBe(9);
    expect(fromOnnx.graph.nodes).toEqual(fromCkpt.nodes);
    for (const [name, w] of fromCkpt.weights) {
      expect(Buffer.from(weightData(fromOnnx.graph.weights.get(name)!).buffer).equals(Buffer.from(weightData(w).buffer)), name).toBe(true);
    }
  });

  it('its ANN runs the logits of the re-export itself (within 1e-4)', async () => {
    const graph = importOnnxModel(path, { configDir: dir }).graph;
    const S = IDS.length;
    const feeds: Record<string, readonly [Float32Array | BigInt64Array, readonly number[]]> = {
      input_ids: [BigInt64Array.from(IDS.map(BigInt)), [1, S]],
      attention_mask: [new BigInt64Array(S).fill(1n), [1, S]],
      position_ids: [BigInt64Array.from(IDS.map((_, i) => BigInt(i))), [1, S]],
    };
    for (const v of graph.inputs) if (v.name.startsWith('past_key_values')) feeds[v.name] = [new Float32Array(0), [1, graph.spec.numKvHeads, 0, graph.spec.headDim]];
    const ours = (await runGraph(graph, 'ann', feeds)).get('logits')!.data;
    expect(maxAbsDiff(ours, await logitsOf(path, graph.spec.numLayers, graph.spec.numKvHeads, graph.spec.headDim))).toBeLessThan(1e-4);
  });

  it('reproduces eval.json within 1e-5 relative on the whole held-out text', async () => {
    const evalJson = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as { ppl: number };
    const imported = importOnnxModel(path, { configDir: dir });
    const model = new HfAnnModel(imported, await loadTokenizer(dir), 'cpu');
    const r = await evaluate(model, [...readFileSync(join(dir, 'heldout.txt'))], { window: 128, annOnly: true });
    await model.release();
    expect(Math.abs(r.ann.ppl / evalJson.ppl - 1)).toBeLessThan(1e-5);
  }, 120_000);
});
