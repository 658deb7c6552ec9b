// Calibrating while sampling (convert's default) gives the thresholds of a second pass over the sampled windows, to the last bit.
import { describe, expect, it } from 'vitest';
import { calibrateThresholds, ThresholdObservers } from '../../src/calibrate/observers.js';
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
