// Calibrating while sampling (convert's default) gives the thresholds of a second pass over the sampled windows, to the last bit.
import { describe, expect, it } from 'vitest';
import { calibrateThresholds, observeChunks, ThresholdObservers } from '../../src/calibrate/observers.js';
import { sampleFromModel } from '../../src/calibrate/sample.js';
import { importHfModel } from '../../src/import/hf/index.js';
import { runRecipe } from '../../src/passes/pipeline.js';
import { weightData } from '../../src/weights/weight-data.js';
import type { Graph } from '../../src/ir/types.js';

const FIXTURES = ['shakespeare-gpt2', 'shakespeare-llama', 'qwen2-dialogue', 'opt-dialogue'];

function thresholds(g: Graph): Map<string, Float32Array> {
  return new Map([...g.weights.values()].filter((w) => w.name.includes('threshold')).map((w) => [w.name, weightData(w)]));
}

describe('calibration observed while sampling', () => {
  for (const name of FIXTURES) {
    for (const mode of ['max', 'p99.9'] as const) {
      it(`equals calibrateThresholds on the sampled windows bit for bit (${name}, ${mode})`, async () => {
        const { graph: source } = importHfModel(`fixtures/${name}`);
        const { graph } = runRecipe(source, 'faithful', 8, { code: 'weighted', headroom: 1 });
        const samples = 3, length = 37; // not a multiple of any vector width: the attention tails differ from the whole window
        const observers = new ThresholdObservers(graph, mode, samples * length);
        const data = await sampleFromModel(graph, { samples, length, seed: 5, start: 0, observers });
        const fused = observers.finish(samples);
        // The reference: the text the source ANN samples, then a whole-window pass of the observers over it.
        const plain = await sampleFromModel(source, { samples, length, seed: 5, start: 0 });
        expect(data.samples).toEqual(plain.samples);
        const twoPass = await calibrateThresholds(graph, plain, { mode });
        expect(fused.tokens).toBe(twoPass.tokens);
        const a = thresholds(fused.graph), b = thresholds(twoPass.graph);
        expect(a.size).toBeGreaterThan(0);
        for (const [k, v] of b) expect(Array.from(a.get(k)!)).toEqual(Array.from(v));
      }, 60_000);
    }
  }
});

describe('windows observed in chunks over the KV cache', () => {
  it('cuts a window into chunks, none of one token', () => {
    expect(observeChunks(10, 4)).toEqual([[0, 4], [4, 8], [8, 10]]);
    expect(observeChunks(9, 4)).toEqual([[0, 4], [4, 7], [7, 9]]);
    expect(observeChunks(8, 8)).toEqual([[0, 8]]);
    expect(observeChunks(5, 256)).toEqual([[0, 5]]);
  });

  for (const name of FIXTURES) {
    for (const mode of ['max', 'p99.9'] as const) {
      it(`gives the thresholds of whole windows bit for bit (${name}, ${mode})`, async () => {
        const { graph } = runRecipe(importHfModel(`fixtures/${name}`).graph, 'faithful', 8, { code: 'weighted', headroom: 1 });
        // 37 tokens: chunks of 12, 12, 11 and 2 (the last would be one token), and 37 in one call; two windows per call too.
        const samples = Array.from({ length: 3 }, (_, w) => Array.from({ length: 37 }, (_, j) => (w * 131 + j * 17) % 60));
        const data = { samples, text: 'test', numSamples: 3, maxLength: 37 };
        const whole = await calibrateThresholds(graph, data, { mode, chunk: 37 });
        const b = thresholds(whole.graph);
        for (const opts of [{ chunk: 12 }, { chunk: 12, batch: 2 }, { chunk: 3 }]) {
          const chunked = await calibrateThresholds(graph, data, { mode, ...opts });
          expect(chunked.tokens).toBe(whole.tokens);
          const a = thresholds(chunked.graph);
          expect(a.size).toBeGreaterThan(0);
          for (const [k, v] of b) expect(Array.from(a.get(k)!), `${k} ${JSON.stringify(opts)}`).toEqual(Array.from(v));
        }
      }, 60_000);
    }
  }
});

describe('the observe-only form', () => {
  it('emits only what the observed values depend on: no LM head, and fewer nodes without the row-stability padding', async () => {
    const { emitOnnx } = await import('../../src/emit/lower.js');
    const { graph } = runRecipe(importHfModel('fixtures/shakespeare-gpt2').graph, 'faithful', 8, { code: 'weighted', headroom: 1 });
    const observers = new ThresholdObservers(graph, 'max', 1);
    const emit = (o: { modelOutputs?: boolean; multiRow?: boolean }) => emitOnnx(graph, { mode: 'ann', placeWeight: (w) => ({ inline: weightData(w) }), observe: observers.observed, ...o });
    const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
    const full = emit({}), pruned = emit({ modelOutputs: false }), whole = emit({ modelOutputs: false, multiRow: true });
    expect(text(full.bytes)).toContain('lm_head');
    expect(text(pruned.bytes)).not.toContain('lm_head');
    expect(pruned.nodeCount).toBeLessThan(full.nodeCount);
    expect(whole.nodeCount).toBeLessThan(pruned.nodeCount);
    // The last site (ln_f) is still observed: its producers were all kept.
    expect(text(whole.bytes)).toContain(`observe/${observers.observed.at(-1)}`);
  });
});

describe('observed values reduced in the graph (observeTop)', () => {
  // Each case: a threshold mode and the rows the statistics are sized for, so that k is 1 (ReduceMax), below
  // a call's rows (TopK), or above them (TopK of every row).
  const cases = [
    { mode: 'max', expected: 111, windows: 3, length: 37, k: 1 },
    { mode: 'p99', expected: 3330, windows: 3, length: 37, k: 34 },
    { mode: 'p99.9', expected: 40_000, windows: 3, length: 5, k: 41 },
  ] as const;
  // SignedIF sites (|x| kept) in the faithful recipe, IF sites (x kept) in stac's.
  const models = [
    { name: 'shakespeare-gpt2', recipe: 'faithful', opts: { code: 'weighted', headroom: 1 } },
    { name: 'shakespeare-llama', recipe: 'faithful', opts: { code: 'weighted', headroom: 1 } },
    { name: 'shakespeare-gpt2', recipe: 'stac', opts: { code: 'rate' } },
  ] as const;
  for (const m of models) {
    for (const c of cases) {
      it(`keeps the statistics of every row bit for bit (${m.name} ${m.recipe}, ${c.mode}, k ${c.k}, ${c.length} rows per call)`, async () => {
        const { openGraphSession } = await import('../../src/open/graph-session.js');
        const { rowsInput } = await import('../../src/runtime/windows.js');
        const { graph } = runRecipe(importHfModel(`fixtures/${m.name}`).graph, m.recipe, 8, m.opts);
        const windows = Array.from({ length: c.windows }, (_, w) => Array.from({ length: c.length }, (_, j) => (w * 131 + j * 17) % 60));
        const pass = async (reduced: boolean) => {
          const observers = new ThresholdObservers(graph, c.mode, c.expected);
          expect(observers.top.k).toBe(c.k);
          expect(observers.top.abs.size).toBe(m.recipe === 'faithful' ? observers.observed.length : 0);
          const session = await openGraphSession(graph, 'ann', { observe: observers.observed, observeOnly: true, multiRow: true, ...(reduced ? { observeTop: observers.top } : {}) });
          const sizes: number[] = [];
          try {
            for (const w of windows) {
              const out = await session.observe(rowsInput([w]), observers.outputs);
              sizes.push(...observers.outputs.map((o) => out.get(o)!.length));
              if (reduced) observers.addTop(out, c.length);
              else observers.add(out);
            }
          } finally {
            await session.release();
          }
          return { result: observers.finish(c.windows), sizes };
        };
        const raw = await pass(false), top = await pass(true);
        // min(k, rows) rows per channel come back instead of every row.
        expect(top.sizes).toEqual(raw.sizes.map((n) => (n / c.length) * Math.min(c.k, c.length)));
        expect(top.result.tokens).toBe(raw.result.tokens);
        const a = thresholds(top.result.graph), b = thresholds(raw.result.graph);
        expect(a.size).toBeGreaterThan(0);
        for (const [k, v] of b) expect(Array.from(a.get(k)!), k).toEqual(Array.from(v));
      }, 60_000);
    }
  }
});
