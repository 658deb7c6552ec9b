// The operation count against a hand count on a two-layer toy graph built here (not by the accounting code).
import { describe, expect, it } from 'vitest';
import type { Graph, Node, Weight } from '../../src/ir/types.js';
import { countOps } from '../../src/report/op-costs.js';
import { energyProxy } from '../../src/report/energy.js';
import type { OpCounts } from '../../src/report/types.js';

const weight = (name: string, shape: number[]): Weight => ({ name, shape, source: { kind: 'data', data: new Float32Array(shape.reduce((a, b) => a * b, 1)) } });
const node = (id: string, op: string, inputs: string[], outputs: string[], attrs: Node['attrs'], weights: Node['weights']): Node => ({ id, op, inputs, outputs, attrs, weights });

/** ids → Embedding(10 × 4) → Neuron a (4) → Linear 4→3 with bias → Neuron b (3) → Linear 3→2 → logits; weighted code, T = 3. */
function toyGraph(): Graph {
  const weights = [weight('table', [10, 4]), weight('ta', [4]), weight('w1', [4, 3]), weight('b1', [3]), weight('tb', [3]), weight('w2', [3, 2])];
  return {
    spec: { arch: 'llama', vocabSize: 2, hiddenSize: 4, numLayers: 0, numHeads: 1, numKvHeads: 1, headDim: 4, maxPositions: 8, bosTokenId: null, eosTokenId: null },
    inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 'seq', 2] }],
    nodes: [
      node('embed', 'Embedding', ['input_ids'], ['x'], {}, { table: 'table' }),
      node('a', 'Neuron', ['x'], ['xa'], { kind: 'SignedIF', levels: 1, site: 'a' }, { threshold: 'ta' }),
      node('l1', 'Linear', ['xa'], ['y1'], { inFeatures: 4, outFeatures: 3, transposed: false }, { weight: 'w1', bias: 'b1' }),
      node('b', 'Neuron', ['y1'], ['yb'], { kind: 'SignedIF', levels: 1, site: 'b' }, { threshold: 'tb' }),
      node('l2', 'Linear', ['yb'], ['logits'], { inFeatures: 3, outFeatures: 2, transposed: false }, { weight: 'w2' }),
    ],
    weights: new Map(weights.map((w) => [w.name, w])),
    spiking: { timesteps: 3, recipe: 'faithful', code: 'weighted', tdConvention: 'mean' },
  };
}

const zero: OpCounts = { macs: 0, sops: 0, adds: 0, mults: 0, transcendentals: 0, membrane: 0, intAdds: 0, intMacs: 0, conversions: 0 };
const spikes: Record<string, number> = { xa: 5, yb: 2 };

describe('operation count, two-layer toy graph', () => {
  const records = countOps(toyGraph(), { window: 8, spikesPerToken: (v) => spikes[v] ?? 0 });
  const keys = Object.keys(zero) as (keyof OpCounts)[];
  const sum = (side: 'ann' | 'snn' | 'int8'): OpCounts => {
    const total: Record<keyof OpCounts, number> = { ...zero };
    for (const r of records) for (const k of keys) total[k] += r[side][k];
    return total;
  };

  it('SNN, per token, by hand', () => {
    // Neuron a (4 ch): x/u 4 + θ/M 4 mults; round 4 + clip 8 adds; 4 × T=3 membrane updates.
    // Linear 1: 5 spikes × 3 SOPs; (T−1)·3 doublings; 3 conversions, 3 scale mults, 3 bias adds.
    // Neuron b (3 ch): 6 mults, 9 adds, 9 membrane updates.  Linear 2: 2 × 2 SOPs, 4 doublings, 2 conversions, 2 mults.
    expect(sum('snn')).toEqual({ ...zero, sops: 15 + 4, intAdds: 6 + 4, conversions: 3 + 2, mults: 8 + 3 + 6 + 2, adds: 12 + 3 + 9, membrane: 12 + 9 });
  });

  it('FP32 ANN, per token, by hand: 4·3 + 3·2 MACs and 3 bias adds', () => {
    expect(sum('ann')).toEqual({ ...zero, macs: 12 + 6, adds: 3 });
  });

  it('W8A8 ANN, per token, by hand: quantizers at both sites, int8 MACs, a conversion and a scale per output', () => {
    // Site a: 8 mults, 12 adds, 4 conversions to int8; Linear 1: 12 int8 MACs, 3 conversions, 3 mults, 3 bias adds;
    // site b: 6 mults, 9 adds, 3 conversions; Linear 2: 6 int8 MACs, 2 conversions, 2 mults.
    expect(sum('int8')).toEqual({ ...zero, intMacs: 12 + 6, conversions: 4 + 3 + 3 + 2, mults: 8 + 3 + 6 + 2, adds: 12 + 3 + 9 });
  });

  it('prices them by width (Horowitz 2014, 45 nm): fp32 MAC 4.6, add 0.9, mult 3.7, INT8 MAC 0.3, SOP/doubling/membrane one 25-bit integer add', () => {
    const intAdd = 0.03 + (0.07 * (25 - 8)) / 24;
    const e = energyProxy(sum('ann'), sum('snn'), sum('int8'));
    const snn = 19 * 3.7 + 24 * 0.9 + 5 * 0.9 + (19 + 10 + 21) * intAdd;
    const ann = 18 * 4.6 + 3 * 0.9;
    const int8 = 18 * 0.3 + 12 * 0.9 + 19 * 3.7 + 24 * 0.9;
    expect(e.snnPicojoules).toBeCloseTo(snn, 9);
    expect(e.annPicojoules).toBeCloseTo(ann, 9);
    expect(e.int8Picojoules).toBeCloseTo(int8, 9);
    expect(e.ratioInt8).toBeCloseTo(snn / int8, 9);
  });
});
