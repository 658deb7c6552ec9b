// readout: TemporalMean right before the Linear that produces the logits; the head then runs once per token.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { runRecipe } from '../../src/passes/pipeline.js';
import { insertReadout } from '../../src/passes/readout.js';
import { openGraphSession } from '../../src/open/graph-session.js';
import { OP_SPEC } from '../harness/onnx-run.js';
import { runModel, tinyGpt2, tinyLlama } from '../harness/tiny-models.js';
import { tempDir } from '../helpers.js';

let root = '';
let gpt2: Graph;
let llama: Graph;
beforeAll(() => {
  root = tempDir('snn-readout-');
  gpt2 = tinyGpt2(root);
  llama = tinyLlama(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const snapshot = (g: Graph): string => JSON.stringify({ nodes: g.nodes, weights: [...g.weights.keys()], outputs: g.outputs });

describe('insertReadout', () => {
  for (const arch of ['gpt2', 'llama'] as const) {
    it(`${arch}: one TemporalMean, placed just before lm_head and read by it; nothing else changes`, () => {
      const model = arch === 'gpt2' ? gpt2 : llama;
      const before = snapshot(model);
      const { graph, matched } = insertReadout(model);
      expect(matched).toEqual(['readout: lm_head']);
      expect(graph.nodes).toHaveLength(model.nodes.length + 1);
      const head = graph.nodes.findIndex((n) => n.id === 'lm_head');
      const readout = graph.nodes[head - 1]!;
      const oldHead = model.nodes.find((n) => n.id === 'lm_head')!;
      expect(readout).toEqual({ id: 'lm_head.readout', op: 'TemporalMean', inputs: oldHead.inputs, outputs: ['lm_head.readout'], attrs: {}, weights: {} });
      expect(graph.nodes[head]).toEqual({ ...oldHead, inputs: ['lm_head.readout'] });
      expect(graph.nodes.filter((n) => n.id !== 'lm_head' && n.op !== 'TemporalMean')).toEqual(model.nodes.filter((n) => n.id !== 'lm_head'));
      expect(verifyGraph(graph)).toEqual([]);
      expect(snapshot(model)).toBe(before);
    });
  }

  it('in the faithful recipe the readout reads the spikes of the final norm', () => {
    const { graph } = runRecipe(gpt2, 'faithful', 4);
    expect(graph.nodes.find((n) => n.id === 'lm_head.readout')!.inputs).toEqual(['ln_f.spikes']);
    const neuron = graph.nodes.findIndex((n) => n.id === 'ln_f.neuron');
    expect(graph.nodes[neuron + 1]!.id).toBe('lm_head.readout');
  });

  it('a graph without a logits Linear is left alone', () => {
    const g = new GraphBuilder(OP_SPEC);
    g.addWeight({ name: 'w', shape: [4, 4], source: { kind: 'data', data: new Float32Array(16) } });
    g.op('Linear', 'proj', ['x'], { attrs: { inFeatures: 4, outFeatures: 4, transposed: false }, weights: { weight: 'w' } });
    const graph = g.build([{ name: 'x', dtype: 'float32', shape: [1, 1, 4] }], [{ name: 'proj', dtype: 'float32', shape: [1, 1, 4] }]);
    const { graph: out, matched } = insertReadout(graph);
    expect(matched).toEqual([]);
    expect(out.nodes).toEqual(graph.nodes);
  });

  it('numerically (rate code): the head\'s input is untimed ([B, S, D], one head run per token) and equals the mean over T of its spiking input', async () => {
    const T = 5;
    const { graph } = runRecipe(gpt2, 'faithful', T, { code: 'rate' });
    const session = await openGraphSession(graph, 'snn', { observe: ['ln_f.spikes', 'lm_head.readout'] });
    const out = await session.run({
      batch: 1, seq: 3, past: 0, cache: [],
      ids: BigInt64Array.from([1n, 5n, 9n]), mask: BigInt64Array.from([1n, 1n, 1n]), positions: BigInt64Array.from([0n, 1n, 2n]),
    }, ['observe/ln_f.spikes', 'observe/lm_head.readout']);
    await session.release();
    const steps = out.extra.get('observe/ln_f.spikes')!;
    const mean = out.extra.get('observe/lm_head.readout')!;
    expect(steps.dims).toEqual([T, 1, 3, 8]);
    expect(mean.dims).toEqual([1, 3, 8]);
    const n = 3 * 8;
    for (let e = 0; e < n; e++) {
      let sum = 0;
      for (let t = 0; t < T; t++) sum += steps.data[t * n + e]!;
      expect(mean.data[e]).toBeCloseTo(sum / T, 6);
    }
  });

  it('numerically: in the ANN the readout is the identity (logits unchanged)', async () => {
    const prompt = { ids: [[4, 4, 2]] };
    const [before, after] = await Promise.all([runModel(llama, 'ann', prompt), runModel(insertReadout(llama).graph, 'ann', prompt)]);
    expect(Array.from(after.logits)).toEqual(Array.from(before.logits));
  });
});
