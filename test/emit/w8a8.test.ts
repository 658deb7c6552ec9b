// The W8A8 integer ANN emission against int8 arithmetic done by hand (one site feeding one Linear), run by onnxruntime.
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { emitOnnx } from '../../src/emit/lower.js';
import { quantizeInt8 } from '../../src/emit/w8a8.js';
import type { Graph, Weight } from '../../src/ir/types.js';
import { weightData } from '../../src/weights/weight-data.js';
import { OP_SPEC } from '../harness/onnx-run.js';

const data = (name: string, shape: number[], values: number[]): Weight => ({ name, shape, source: { kind: 'data', data: Float32Array.from(values) } });

/** x [1, 1, 2] → SignedIF site (θ = 2.54, 1.27) → Linear 2 → 2, W = [[1, −2], [0.5, 4]] ([in, out]), b = [0.1, 0]. */
const graph: Graph = {
  spec: OP_SPEC,
  inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1, 2] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [1, 1, 2] }],
  nodes: [
    { id: 'site', op: 'Neuron', inputs: ['x'], outputs: ['q'], attrs: { kind: 'SignedIF', levels: 1, site: 'site' }, weights: { threshold: 'theta' } },
    { id: 'fc', op: 'Linear', inputs: ['q'], outputs: ['y'], attrs: { inFeatures: 2, outFeatures: 2, transposed: false }, weights: { weight: 'w', bias: 'b' } },
  ],
  weights: new Map([data('theta', [2], [2.54, 1.27]), data('w', [2, 2], [1, -2, 0.5, 4]), data('b', [2], [0.1, 0])].map((w) => [w.name, w])),
  spiking: { timesteps: 3, recipe: 'faithful', code: 'weighted', tdConvention: 'mean' },
};

describe('W8A8 integer ANN', () => {
  it('quantizes the folded weights W·u per output channel to int8: [[127, −127], [32, 127]] with s = (0.02, 0.04)/127', () => {
    const u = Float32Array.from([2.54, 1.27], (t) => Math.fround(t / 127));
    const { weights, scale } = quantizeInt8(Float32Array.from([1, -2, 0.5, 4]), false, 2, 2, u);
    expect([...weights]).toEqual([127, -127, 32, 127]);
    expect(scale[0]).toBeCloseTo(0.02 / 127, 9);
    expect(scale[1]).toBeCloseTo(0.04 / 127, 9);
  });

  it('runs int8 × int8 sums in onnxruntime: a = (25, −33) for x = (0.5, −0.333), y = s·(2119, −7366) + b', async () => {
    const emitted = emitOnnx(graph, { mode: 'snn', quantized: 'w8a8', placeWeight: (w) => ({ inline: weightData(w) }) });
    const session = await ort.InferenceSession.create(emitted.bytes, { logSeverityLevel: 3 });
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([0.5, -0.333]), [1, 1, 2]) });
    await session.release();
    // a0 = round(0.5 / 0.02) = 25, a1 = round(−0.333 / 0.01) = −33;
    // col 0: 127·25 + 32·(−33) = 2119; col 1: −127·25 + 127·(−33) = −7366.
    const y = out['y']!.data as Float32Array;
    expect(y[0]).toBeCloseTo((2119 * 0.02) / 127 + 0.1, 5);
    expect(y[1]).toBeCloseTo((-7366 * 0.04) / 127, 5);
  });
});
