// The recipes: passes in order and recorded, options validated, and numerically: `exact` SNN ≡ ANN on tiny
// GPT-2 and Llama (with a past cache), `faithful`/`stac` finite with spikes in the allowed set.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnnError } from '../../src/errors/index.js';
import type { Graph } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { RECIPES, parseRecipe, parseTimesteps, recipePasses, runRecipe, type Recipe } from '../../src/passes/pipeline.js';
import { maxAbsDiff } from '../harness/onnx-run.js';
import { VOCAB, runModel, tinyGpt2, tinyLlama, type Batch } from '../harness/tiny-models.js';
import { tempDir } from '../helpers.js';

let root = '';
const models: Record<'gpt2' | 'llama', Graph> = {} as Record<'gpt2' | 'llama', Graph>;
beforeAll(() => {
  root = tempDir('snn-pipeline-');
  models.gpt2 = tinyGpt2(root);
  models.llama = tinyLlama(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function snnErrorOf(fn: () => unknown): SnnError {
  try { fn(); } catch (e) { if (e instanceof SnnError) return e; throw e; }
  throw new Error('expected an SnnError');
}

const snapshot = (g: Graph): string => JSON.stringify({ nodes: g.nodes, weights: [...g.weights.keys()], inputs: g.inputs, outputs: g.outputs, spiking: g.spiking ?? null });

describe('options', () => {
  it('an unknown recipe is OPTION_INVALID listing the valid ones', () => {
    const e = snnErrorOf(() => parseRecipe('fast'));
    expect(e.code).toBe('OPTION_INVALID');
    for (const r of ['faithful', 'stac', 'exact']) expect(e.message).toContain(r);
    expect(e.message).toContain('fast');
    expect(e.at).toBe('--recipe');
  });

  it('every listed recipe parses to itself', () => {
    expect(RECIPES).toEqual(['faithful', 'stac', 'exact']);
    for (const r of RECIPES) expect(parseRecipe(r)).toBe(r);
  });

  for (const bad of [0, -1, 1.5, 'abc', '', '1.5', '-3', 1025, Number.NaN, null, undefined]) {
    it(`timesteps ${JSON.stringify(bad) ?? 'undefined'} is OPTION_INVALID`, () => {
      const e = snnErrorOf(() => parseTimesteps(bad));
      expect(e.code).toBe('OPTION_INVALID');
      expect(e.at).toBe('--timesteps');
    });
  }

  it('timesteps accepts positive integers, also as CLI strings', () => {
    expect(parseTimesteps(1)).toBe(1);
    expect(parseTimesteps(16)).toBe(16);
    expect(parseTimesteps('32')).toBe(32);
    expect(parseTimesteps(1024)).toBe(1024);
  });

  it('bad timesteps are refused where T is parsed, before runRecipe (which takes a parsed Timesteps)', () => {
    for (const bad of [0, -1, 1.5]) expect(snnErrorOf(() => runRecipe(models.gpt2, 'exact', parseTimesteps(bad))).code).toBe('OPTION_INVALID');
  });
});

describe('runRecipe', () => {
  const expectedPasses: Record<Recipe, string[]> = {
    faithful: ['layernorm-to-spike', 'attention-to-spike', 'insert-neurons', 'readout'],
    stac: ['gelu-to-relu', 'layernorm-to-spike', 'attention-to-spike', 'insert-neurons', 'readout'],
    exact: ['layernorm-to-spike', 'attention-to-spike', 'readout'],
  };

  for (const recipe of RECIPES) {
    it(`${recipe}: records its passes in order, each with a why and what it matched; marks the graph spiking`, () => {
      const before = snapshot(models.gpt2);
      const { graph, passes } = runRecipe(models.gpt2, recipe, 8);
      expect(passes.map((p) => p.name)).toEqual(expectedPasses[recipe]);
      expect(recipePasses(recipe).map((p) => p.name)).toEqual(expectedPasses[recipe]);
      for (const p of passes) expect(p.why.length).toBeGreaterThan(10);
      expect(passes.find((p) => p.name === 'readout')?.matched).toEqual(['readout: lm_head']);
      expect(passes.find((p) => p.name === 'attention-to-spike')?.matched).toEqual(['attention→spike: h.0.attn', 'attention→spike: h.1.attn']);
      expect(graph.spiking).toEqual({ timesteps: 8, recipe, code: recipe === 'exact' ? 'rate' : 'weighted', ...(recipe === 'exact' ? {} : { headroom: 0 }), tdConvention: 'mean' });
      expect(verifyGraph(graph)).toEqual([]);
      expect(snapshot(models.gpt2)).toBe(before);
    });
  }

  it('the graph verifies clean after every single pass of every recipe (GPT-2 and Llama)', () => {
    for (const model of [models.gpt2, models.llama]) {
      for (const recipe of RECIPES) {
        let g = model;
        for (const step of recipePasses(recipe, { levels: () => 2 })) {
          g = step.run(g).graph;
          expect(verifyGraph(g), `${recipe} after ${step.name}`).toEqual([]);
        }
      }
    }
  });

  it('faithful records one neuron per Linear input and per Q, K, V', () => {
    const { passes } = runRecipe(models.gpt2, 'faithful', 4);
    const matched = passes.find((p) => p.name === 'insert-neurons')!.matched;
    // Per layer: ln_1 out, q, k, v, attn out, ln_2 out, activation; then ln_f.
    expect(matched).toHaveLength(2 * 7 + 1);
    expect(matched.every((m) => m.startsWith('SignedIF: '))).toBe(true);
  });

  it('stac on a SiLU model (Llama) finds no GELU and no ReLU: it refuses rather than return a model with no spikes', () => {
    let error: unknown;
    try { runRecipe(models.llama, 'stac', 4); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(SnnError);
    expect((error as SnnError).code).toBe('OPTION_INVALID');
    expect((error as SnnError).message).toContain('no site for a neuron');
  });
});

// ── numerics ──────────────────────────────────────────────────────────────────────────────────

const PROMPT: Batch = { ids: [[1, 5, 9, 3], [7, 2, 2, 10]] };
const NEXT = [[4, 8], [6, 0]];

describe('exact recipe: SNN ≡ ANN', () => {
  for (const arch of ['gpt2', 'llama'] as const) {
    // ≤ 1e-5 up to T = 16; at T = 64 the design's bound 1e-4 (float32 TD differences grow about linearly with T).
    for (const [T, tol] of [[1, 1e-5], [4, 1e-5], [16, 1e-5], [64, 1e-4]] as const) {
      it(`${arch}, T = ${T}: logits and present K/V equal the ANN's within ${tol}, also continuing from a past cache`, async () => {
        const model = models[arch];
        const snnGraph = runRecipe(model, 'exact', T).graph;
        const ann1 = await runModel(model, 'ann', PROMPT);
        const snn1 = await runModel(snnGraph, 'snn', PROMPT);
        expect(snn1.logits).toHaveLength(2 * 4 * VOCAB);
        expect(maxAbsDiff(snn1.logits, ann1.logits)).toBeLessThanOrEqual(tol);
        snn1.present.forEach((p, i) => expect(maxAbsDiff(p, ann1.present[i]!)).toBeLessThanOrEqual(tol));
        // Prefill 2 more tokens on top of the ANN's cache (one padded past slot in row 1).
        const next: Batch = { ids: NEXT, past: { length: 4, cache: ann1.present }, mask: [[1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 1, 1]] };
        const ann2 = await runModel(model, 'ann', next);
        const snn2 = await runModel(snnGraph, 'snn', next);
        expect(maxAbsDiff(snn2.logits, ann2.logits)).toBeLessThanOrEqual(tol);
        expect(snn2.present).toHaveLength(2 * 2);
        snn2.present.forEach((p, i) => {
          expect(p).toHaveLength(ann2.present[i]!.length);
          expect(maxAbsDiff(p, ann2.present[i]!)).toBeLessThanOrEqual(tol);
        });
        // The logits are not trivially equal: they vary across positions.
        expect(Math.max(...ann1.logits) - Math.min(...ann1.logits)).toBeGreaterThan(0.5);
      });
    }
  }
});

describe('faithful and stac: finite logits, spikes only in the allowed set', () => {
  // The weighted code's digits are signed (NAF) even for IF neurons, whose counts are ≥ 0 (3 = 4 − 1).
  const cases: readonly (readonly [('gpt2' | 'llama'), Recipe, 'weighted' | 'rate', number, readonly number[]])[] = [
    ['gpt2', 'faithful', 'weighted', 1, [-1, 0, 1]],
    ['llama', 'faithful', 'weighted', 1, [-1, 0, 1]],
    ['gpt2', 'stac', 'weighted', 1, [-1, 0, 1]],
    ['gpt2', 'faithful', 'rate', 1, [-1, 0, 1]],
    ['gpt2', 'faithful', 'rate', 2, [-2, -1, 0, 1, 2]],
    ['gpt2', 'stac', 'rate', 1, [0, 1]],
  ];
  for (const [arch, recipe, code, levels, allowed] of cases) {
    it(`${arch} ${recipe} ${code}${levels > 1 ? ` with ${levels}-level neurons` : ''}: spikes in {${allowed.join(', ')}}`, async () => {
      const T = 6;
      const { graph, passes } = runRecipe(models[arch], recipe, T, { code, ...(levels > 1 ? { levels: () => levels } : {}) });
      const sites = passes.find((p) => p.name === 'insert-neurons')!.matched.length;
      const out = await runModel(graph, 'snn', PROMPT, { exposeSpikes: true });
      expect(out.logits.every(Number.isFinite)).toBe(true);
      expect(out.spikeNames).toHaveLength(sites);
      let nonzero = 0;
      for (const name of out.spikeNames) {
        const s = out.extra.get(name)!;
        expect(s.dims[0]).toBe(T);
        expect(s.dims.slice(1, 3)).toEqual([2, 4]);
        for (const v of s.data) {
          expect(allowed).toContain(v + 0);
          if (v !== 0) nonzero += 1;
        }
      }
      expect(nonzero).toBeGreaterThan(0);
      if (levels > 1) expect(out.spikeNames.some((n) => out.extra.get(n)!.data.some((v) => Math.abs(v) === levels))).toBe(true);
    });
  }
});
