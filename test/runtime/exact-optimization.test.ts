// The runtime's onnxruntime sessions keep a spiking graph's float ops as emitted: no fusion may rewrite them,
// since whether one fires depends on each form's inferred shapes and the forms must round alike (bit for bit).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { emitOnnx } from '../../src/emit/lower.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph } from '../../src/ir/types.js';
import { sessionOptions } from '../../src/runtime/session.js';
import { weightData } from '../../src/weights/weight-data.js';
import { OP_SPEC } from '../harness/onnx-run.js';
import { tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const S = 8, D = 16;

/** A residual Add into a LayerNorm read by a neuron (the pattern onnxruntime fuses into SkipLayerNormalization). */
function residualNormGraph(): Graph {
  const g = new GraphBuilder(OP_SPEC);
  const weight = (name: string, shape: number[], data: Float32Array) => g.addWeight({ name, shape, source: { kind: 'data', data } });
  const eye = Float32Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0));
  weight('n0.threshold', [D], new Float32Array(D).fill(4));
  weight('n1.threshold', [D], new Float32Array(D).fill(4));
  weight('l0.weight', [D, D], eye);
  weight('l1.weight', [D, D], eye);
  weight('ln.weight', [D], new Float32Array(D).fill(1));
  weight('ln.bias', [D], new Float32Array(D));
  const linear = (id: string, input: string, outputs?: string[]) => g.op('Linear', id, [input], { attrs: { inFeatures: D, outFeatures: D, transposed: false }, weights: { weight: `${id}.weight` }, ...(outputs ? { outputs } : {}) });
  const neuron = (id: string, input: string) => g.op('Neuron', id, [input], { attrs: { kind: 'SignedIF', levels: 1, site: id }, weights: { threshold: `${id}.threshold` } });
  const sum = g.op('Add', 'residual', [linear('l0', neuron('n0', 'x')), 'r'], {});
  const normed = g.op('SpikeLayerNorm', 'ln', [sum], { attrs: { eps: 1e-5 }, weights: { weight: 'ln.weight', bias: 'ln.bias' } });
  linear('l1', neuron('n1', normed), ['y']);
  const io = (name: string) => ({ name, dtype: 'float32' as const, shape: [1, S, D] });
  return g.build([io('x'), io('r')], [io('y')], { timesteps: 8, recipe: 'test', code: 'weighted', headroom: 1, tdConvention: 'mean' });
}

const opTypes = (bytes: Uint8Array) => new Set(onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!));

describe('session options: onnxruntime optimizes without rewriting float arithmetic', () => {
  for (const execution of ['closed', 'steps'] as const) {
    it(`${execution} form: the optimized graph uses only ops the emitted graph has (no SkipLayerNormalization, no FusedMatMul)`, async () => {
      const emitted = emitOnnx(residualNormGraph(), { mode: 'snn', execution, placeWeight: (w) => ({ inline: weightData(w) }) });
      const optimized = join(tempDir('snn-opt-'), 'optimized.onnx');
      const session = await ort.InferenceSession.create(emitted.bytes, { ...sessionOptions('cpu'), optimizedModelFilePath: optimized });
      await session.release();
      const before = opTypes(emitted.bytes);
      const added = [...opTypes(readFileSync(optimized))].filter((op) => !before.has(op));
      expect(before.has('LayerNormalization')).toBe(true);
      expect(added).toEqual([]);
    });
  }
});
