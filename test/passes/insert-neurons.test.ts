// insert-neurons: where neurons sit (sites), their widths, kinds, levels and initial θ; ANN unchanged; and
// numerically, with per-channel max thresholds the spiking model approaches the ANN as T grows.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightData } from '../../src/weights/weight-data.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph, Node, Weight } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { replaceGeluWithRelu } from '../../src/passes/gelu-to-relu.js';
import { insertNeurons, type InsertNeuronsOptions } from '../../src/passes/insert-neurons.js';
import { runRecipe } from '../../src/passes/pipeline.js';
import { openGraphSession } from '../../src/open/graph-session.js';
import { OP_SPEC, maxAbsDiff } from '../harness/onnx-run.js';
import { runModel, tinyGpt2, tinyLlama } from '../harness/tiny-models.js';
import { tempDir } from '../helpers.js';

let root = '';
let gpt2: Graph;
let llama: Graph;
beforeAll(() => {
  root = tempDir('snn-neurons-');
  gpt2 = tinyGpt2(root);
  llama = tinyLlama(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const snapshot = (g: Graph): string => JSON.stringify({ nodes: g.nodes, weights: [...g.weights.keys()], outputs: g.outputs });
const neuronsOf = (g: Graph): Node[] => g.nodes.filter((n) => n.op === 'Neuron');
const nodeById = (g: Graph, id: string): Node => {
  const n = g.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id}`);
  return n;
};

/** Runs the pass, checks the invariants every insertion keeps, and returns the result. */
function insert(graph: Graph, opts: InsertNeuronsOptions) {
  const before = snapshot(graph);
  const result = insertNeurons(graph, opts);
  expect(verifyGraph(result.graph)).toEqual([]);
  expect(snapshot(graph)).toBe(before);
  for (const n of neuronsOf(result.graph)) {
    const site = n.attrs['site'] as string;
    // Each neuron reads its site value and sits right after the node that produces it.
    expect(n.inputs).toEqual([site]);
    expect(n.outputs).toEqual([`${site}.spikes`]);
    const at = result.graph.nodes.indexOf(n);
    const producer = result.graph.nodes.findIndex((p) => p.outputs.includes(site));
    expect(result.graph.nodes.slice(producer + 1, at).every((p) => p.op === 'Neuron')).toBe(true);
    // θ starts at 1 per channel, and is a new weight.
    const theta = result.graph.weights.get(n.weights['threshold']!)!;
    expect(graph.weights.has(theta.name)).toBe(false);
    expect(Array.from(weightData(theta))).toEqual(new Array<number>(theta.shape[0]!).fill(1));
  }
  expect(result.matched).toEqual(neuronsOf(result.graph).map((n) => `${opts.kind}: ${n.attrs['site'] as string}`));
  return result;
}

const widths = (g: Graph): Record<string, number> =>
  Object.fromEntries(neuronsOf(g).map((n) => [n.attrs['site'] as string, g.weights.get(n.weights['threshold']!)!.shape[0]!]));

describe('insertNeurons', () => {
  it('linear-inputs on GPT-2: one SignedIF on the input of every Linear, with that input\'s width', () => {
    const { graph } = insert(gpt2, { kind: 'SignedIF', sites: ['linear-inputs'] });
    expect(widths(graph)).toEqual({
      'h.0.ln_1': 8, 'h.0.attn.out': 8, 'h.0.ln_2': 8, 'h.0.mlp.act': 32,
      'h.1.ln_1': 8, 'h.1.attn.out': 8, 'h.1.ln_2': 8, 'h.1.mlp.act': 32,
      'ln_f': 8,
    });
    for (const n of neuronsOf(graph)) expect(n.attrs).toMatchObject({ kind: 'SignedIF', levels: 1 });
    // Every Linear now reads spikes; nothing else does.
    for (const n of graph.nodes) {
      if (n.op === 'Linear') expect(n.inputs[0]).toMatch(/\.spikes$/);
      else if (n.op !== 'Neuron') expect(n.inputs.some((i) => i.endsWith('.spikes'))).toBe(false);
    }
    expect(nodeById(graph, 'lm_head').inputs).toEqual(['ln_f.spikes']);
  });

  it('attention-inputs on GPT-2: Q, K and V (the Split outputs) get neurons; the Split input does not', () => {
    const { graph } = insert(gpt2, { kind: 'SignedIF', sites: ['attention-inputs'] });
    expect(widths(graph)).toEqual({
      'h.0.attn.q': 8, 'h.0.attn.k': 8, 'h.0.attn.v': 8,
      'h.1.attn.q': 8, 'h.1.attn.k': 8, 'h.1.attn.v': 8,
    });
    const attn = nodeById(graph, 'h.0.attn');
    expect(attn.inputs.slice(0, 3)).toEqual(['h.0.attn.q.spikes', 'h.0.attn.k.spikes', 'h.0.attn.v.spikes']);
    expect(attn.inputs.slice(3)).toEqual(nodeById(gpt2, 'h.0.attn').inputs.slice(3));
  });

  it('Llama linear-inputs + attention-inputs: a value shared by q/k/v projections gets one neuron; GQA widths', () => {
    const { graph } = insert(llama, { kind: 'SignedIF', sites: ['linear-inputs', 'attention-inputs'] });
    const w = widths(graph);
    expect(w['layers.0.input_layernorm']).toBe(8);
    expect(w['layers.0.self_attn.q_proj']).toBe(8);
    expect(w['layers.0.self_attn.k_proj']).toBe(4);
    expect(w['layers.0.self_attn.v_proj']).toBe(4);
    expect(w['layers.0.mlp.gate_mul']).toBe(16);
    expect(w['norm']).toBe(8);
    expect(Object.keys(w)).toHaveLength(2 * 7 + 1);
    for (const proj of ['q_proj', 'k_proj', 'v_proj']) expect(nodeById(graph, `layers.0.self_attn.${proj}`).inputs).toEqual(['layers.0.input_layernorm.spikes']);
  });

  it('relu-outputs after gelu-to-relu: IF neurons on each ReLU output, read by the MLP down-projection', () => {
    const relued = replaceGeluWithRelu(gpt2).graph;
    const { graph } = insert(relued, { kind: 'IF', sites: ['relu-outputs'] });
    expect(widths(graph)).toEqual({ 'h.0.mlp.act': 32, 'h.1.mlp.act': 32 });
    expect(nodeById(graph, 'h.0.mlp.c_proj').inputs).toEqual(['h.0.mlp.act.spikes']);
    for (const n of neuronsOf(graph)) expect(n.attrs['kind']).toBe('IF');
  });

  it('relu-outputs on a model without ReLU inserts nothing', () => {
    const { graph, matched } = insert(gpt2, { kind: 'IF', sites: ['relu-outputs'] });
    expect(matched).toEqual([]);
    expect(graph.nodes).toEqual(gpt2.nodes);
  });

  it('levels come from the per-site option', () => {
    const { graph } = insert(gpt2, { kind: 'SignedIF', sites: ['linear-inputs'], levels: (site) => (site.endsWith('mlp.act') ? 4 : 1) });
    for (const n of neuronsOf(graph)) expect(n.attrs['levels']).toBe((n.attrs['site'] as string).endsWith('mlp.act') ? 4 : 1);
  });

  it('only the targeted consumer reads the spikes: another consumer of the same value keeps the real value', () => {
    const g = new GraphBuilder(OP_SPEC);
    g.addWeight({ name: 'w', shape: [4, 4], source: { kind: 'data', data: new Float32Array(16).fill(0.5) } });
    // A graph input has no producer: it gets no neuron (and valueWidth needs one), so h comes after a Linear.
    const x = g.op('Linear', 'in', ['x'], { attrs: { inFeatures: 4, outFeatures: 4, transposed: false }, weights: { weight: 'w' } });
    const h = g.op('Relu', 'h', [x]);
    const y = g.op('Linear', 'proj', [h], { attrs: { inFeatures: 4, outFeatures: 4, transposed: false }, weights: { weight: 'w' } });
    g.op('Add', 'residual', [h, y]);
    const graph = g.build([{ name: 'x', dtype: 'float32', shape: [1, 2, 4] }], [{ name: 'residual', dtype: 'float32', shape: [1, 2, 4] }]);
    const { graph: out } = insert(graph, { kind: 'SignedIF', sites: ['linear-inputs'] });
    expect(out.nodes.map((n) => n.id)).toEqual(['in', 'h', 'h.neuron', 'proj', 'residual']);
    expect(nodeById(out, 'proj').inputs).toEqual(['h.spikes']);
    expect(nodeById(out, 'residual').inputs).toEqual(['h', 'proj']);
  });

  it('numerically: neurons are the identity in the ANN, so ANN logits are unchanged', async () => {
    const prompt = { ids: [[1, 5, 9, 3]] };
    const { graph } = insert(gpt2, { kind: 'SignedIF', sites: ['linear-inputs', 'attention-inputs'] });
    const [before, after] = await Promise.all([runModel(gpt2, 'ann', prompt), runModel(graph, 'ann', prompt)]);
    expect(Array.from(after.logits)).toEqual(Array.from(before.logits));
  });
});

describe('faithful spiking model vs the ANN, with per-channel max thresholds', () => {
  /** θ per channel = max |x| the ANN shows at each neuron site on the prompt (a calibration done here, in the test). */
  async function withMaxThresholds(graph: Graph, ids: readonly (readonly number[])[]): Promise<Graph> {
    const neurons = neuronsOf(graph);
    const session = await openGraphSession(graph, 'ann', { observe: neurons.map((n) => n.inputs[0]!) });
    const B = ids.length;
    const S = ids[0]!.length;
    const out = await session.run({
      batch: B, seq: S, past: 0, cache: [],
      ids: BigInt64Array.from(ids.flat().map(BigInt)),
      mask: new BigInt64Array(B * S).fill(1n),
      positions: BigInt64Array.from(ids.flatMap((r) => r.map((_, j) => BigInt(j)))),
    }, session.extraOutputs);
    await session.release();
    const weights = new Map(graph.weights);
    for (const n of neurons) {
      const seen = out.extra.get(`observe/${n.inputs[0]!}`)!;
      const theta = weights.get(n.weights['threshold']!)!;
      const D = theta.shape[0]!;
      const max = new Float32Array(D);
      seen.data.forEach((v, i) => { max[i % D] = Math.max(max[i % D]!, Math.abs(v)); });
      weights.set(theta.name, { ...theta, source: { kind: 'data', data: max } } satisfies Weight);
    }
    return { ...graph, weights };
  }

  it('GPT-2, rate code: the logit error shrinks about as 1/T (T = 8 → 64)', async () => {
    const ids = [[1, 5, 9, 3], [7, 2, 2, 10]];
    const ann = await runModel(gpt2, 'ann', { ids });
    const calibrated = await withMaxThresholds(runRecipe(gpt2, 'faithful', 8, { code: 'rate' }).graph, ids);
    const error = async (T: number) => maxAbsDiff((await runModel({ ...calibrated, spiking: { ...calibrated.spiking!, timesteps: T } }, 'snn', { ids })).logits, ann.logits);
    const e8 = await error(8);
    const e64 = await error(64);
    expect(e64).toBeLessThan(e8 / 3);
    expect(e64).toBeLessThan(1);
  });
});
