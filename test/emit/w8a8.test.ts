// The W8A8 integer ANN emission against int8 arithmetic done by hand (one site feeding one Linear), run by onnxruntime.
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { emitOnnx } from '../../src/emit/lower.js';
import { DYNAMIC_WEIGHT_MAX, quantizeInt8 } from '../../src/emit/w8a8.js';
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

/** x [B, S, 2] → Linear 2 → 3 (W [in, out] = [[1, −2, 0], [0.5, 4, −0.03]], b = [0.1, 0, 0]), stored as given or transposed. */
function dynamicGraph(transposed: boolean): Graph {
  const W = [[1, -2, 0], [0.5, 4, -0.03]];
  const stored = transposed ? [0, 1, 2].flatMap((j) => W.map((row) => row[j]!)) : W.flat();
  return {
    spec: OP_SPEC,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 'seq', 2] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 'seq', 3] }],
    nodes: [{ id: 'fc', op: 'Linear', inputs: ['x'], outputs: ['y'], attrs: { inFeatures: 2, outFeatures: 3, transposed }, weights: { weight: 'w', bias: 'b' } }],
    weights: new Map([data('w', transposed ? [3, 2] : [2, 3], stored), data('b', [3], [0.1, 0, 0])].map((w) => [w.name, w])),
  };
}

describe('dynamic INT8 linears (the calibration sampler\'s form)', () => {
  const rows = [[0.5, -0.25], [2, 1], [0, 0]];
  /** ONNX Round: halves to even (−63.5 → −64). */
  const roundEven = (v: number): number => (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));
  /**
   * By hand: m = max|x| per row, a = round(x · 127/m) (float32 and ONNX rounding, as the graph); w = round(W/s_j),
   * s_j = max_k |W_kj|/63 (0.5/s_0 = 31.4999…: 31); y = (m/127)·s_j·Σ w·a + b.
   */
  const expected = rows.map((x) => {
    const W = [[1, -2, 0], [0.5, 4, -0.03]];
    const m = Math.max(...x.map(Math.abs));
    const step = Math.fround(m / 127);
    const a = x.map((v) => (m > 0 ? roundEven(Math.fround(v * Math.fround(127 / m))) : 0));
    return [0, 1, 2].map((j) => {
      const sj = Math.fround(Math.max(...W.map((r) => Math.abs(r[j]!))) / DYNAMIC_WEIGHT_MAX); // stored as float32
      return step * sj * W.reduce((sum, r, k) => sum + Math.round(r[j]! / sj) * a[k]!, 0) + [0.1, 0, 0][j]!;
    });
  });
  const run = async (g: Graph, x: number[][]): Promise<Float32Array> => {
    const emitted = emitOnnx(g, { mode: 'ann', quantized: 'dynamic', placeWeight: (w) => ({ inline: weightData(w) }) });
    const session = await ort.InferenceSession.create(emitted.bytes, { logSeverityLevel: 3 });
    try {
      return (await session.run({ x: new ort.Tensor('float32', Float32Array.from(x.flat()), [x.length, 1, 2]) }))['y']!.data as Float32Array;
    } finally {
      await session.release();
    }
  };

  it('quantizes each row of its input on its own and sums 7-bit weights exactly, for either weight layout', async () => {
    for (const transposed of [false, true]) {
      const y = await run(dynamicGraph(transposed), rows);
      // Row 2 is all zeros: its codes are 0, not 0/0, and only the bias is left.
      expected.flat().forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
      // The quantization error is real but small: row 1 by float arithmetic is (2.5, 0, -0.03).
      expect(Math.abs(y[3]! - 2.6)).toBeLessThan(0.05);
      expect(y[3]).not.toBe(Math.fround(2.6));
    }
  });

  it('gives a row the same values alone as beside other rows (batches do not change a document)', async () => {
    const g = dynamicGraph(false);
    const together = await run(g, rows);
    for (const [r, x] of rows.entries()) expect([...(await run(g, [x]))]).toEqual([...together.subarray(3 * r, 3 * r + 3)]);
  });

  it('runs Linears that read one input as one product, split: the values of each Linear alone, bit for bit', async () => {
    const alone = dynamicGraph(true);
    const other = data('v', [2, 4], [0.3, -1, 2, 0.01, -0.7, 0.25, 0, 9]);
    const pair: Graph = {
      ...alone,
      outputs: [...alone.outputs, { name: 'z', dtype: 'float32', shape: ['batch', 'seq', 4] }],
      nodes: [...alone.nodes, { id: 'fc2', op: 'Linear', inputs: ['x'], outputs: ['z'], attrs: { inFeatures: 2, outFeatures: 4, transposed: false }, weights: { weight: 'v' } }],
      weights: new Map([...alone.weights, ['v', other]]),
    };
    const emitted = emitOnnx(pair, { mode: 'ann', quantized: 'dynamic', placeWeight: (w) => ({ inline: weightData(w) }) });
    expect(new TextDecoder('latin1').decode(emitted.bytes).match(/MatMulIntegerToFloat_\d/g)).toHaveLength(1); // node names: one product
    const session = await ort.InferenceSession.create(emitted.bytes, { logSeverityLevel: 3 });
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 1, 2]) });
    await session.release();
    expect([...(out['y']!.data as Float32Array)]).toEqual([...(await run(alone, rows))]);
    const second: Graph = { ...pair, outputs: [pair.outputs[1]!], nodes: [pair.nodes[1]!] };
    const emittedZ = emitOnnx(second, { mode: 'ann', quantized: 'dynamic', placeWeight: (w) => ({ inline: weightData(w) }) });
    const sz = await ort.InferenceSession.create(emittedZ.bytes, { logSeverityLevel: 3 });
    const z = await sz.run({ x: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 1, 2]) });
    await sz.release();
    expect([...(out['z']!.data as Float32Array)]).toEqual([...(z['z']!.data as Float32Array)]);
  });

  it('is refused for a spiking form', () => {
    expect(() => emitOnnx(graph, { mode: 'snn', quantized: 'dynamic', placeWeight: (w) => ({ inline: weightData(w) }) })).toThrow(/ANN form/);
  });
});
