// The spiking recipes on the real Shakespeare GPT-2, measured against its ANN (itself checked against eval.json).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { evaluate } from '../../src/runtime/evaluate.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { windowInput } from '../../src/runtime/windows.js';
import { importHfModel } from '../../src/import/hf/index.js';
import { replaceGeluWithRelu } from '../../src/passes/gelu-to-relu.js';
import { openGraphSession } from '../../src/open/graph-session.js';
import { GPT2_DIR, LLAMA_DIR, tempDir } from '../helpers.js';

const HELDOUT = [...readFileSync(join(GPT2_DIR, 'heldout.txt'))];
/** 24 windows of 128 tokens spread evenly over the held-out text (full-text figures: README). */
const SPREAD = { window: 128, stride: Math.floor((HELDOUT.length - 128) / 23) };
const IDS = HELDOUT.slice(0, 8 * 128);

async function bundleOf(recipe: string, dir = GPT2_DIR, T = 16): Promise<Bundle> {
  const { bundlePath } = await convert(dir, { recipe, timesteps: T, out: join(tempDir(), `${recipe}.snn`) });
  return loadBundle(bundlePath);
}

describe('exact recipe (TD operators only, no neurons)', () => {
  it.each([['gpt2', GPT2_DIR], ['llama', LLAMA_DIR]])('%s: SNN logits equal the ANN within 1e-4 and greedy choices agree', async (_n, dir) => {
    const b = await bundleOf('exact', dir);
    const r = await evaluate(b, IDS, { window: 128 });
    expect(r.max_abs_logit_diff!).toBeLessThanOrEqual(1e-4);
    expect(r.top1_agreement).toBe(1);
    expect(Math.abs(r.ratio! - 1)).toBeLessThan(1e-5);
    await b.release();
  });
});

describe('default conversion (weighted code, default T): docs/design.md §2 faithful on held-out text', () => {
  it.each([['gpt2', GPT2_DIR], ['llama', LLAMA_DIR]])('%s: ratio ≤ 1.02 and KL ≤ 0.02 on 24 spread held-out windows', async (_n, dir) => {
    const { bundlePath } = await convert(dir, { out: join(tempDir(), 'default.snn') });
    const b = await loadBundle(bundlePath);
    const r = await evaluate(b, HELDOUT, SPREAD);
    expect(r.windows).toBe(24);
    expect(Math.abs(r.ratio! - 1)).toBeLessThanOrEqual(0.02);
    expect(r.kl!).toBeLessThanOrEqual(0.02);
    await b.release();
  });
});

describe('faithful recipe at T=16 (weighted code)', () => {
  let b: Bundle;
  beforeAll(async () => { b = await bundleOf('faithful'); });

  it('stays within 2% of the ANN perplexity on held-out text', async () => {
    const r = await evaluate(b, HELDOUT, SPREAD);
    expect(r.windows).toBe(24);
    // 16 signed digits per value: near-lossless, KL at the largest default-sweep T ≤ 0.01 (issue 8).
    expect(Math.abs(r.ratio! - 1)).toBeLessThan(0.005);
    expect(r.kl!).toBeLessThanOrEqual(0.01);
    expect(r.top1_agreement!).toBeGreaterThan(0.97);
  });

  it('emits real spikes: integers within each neuron\'s levels, identical on a re-run', async () => {
    const session = await b.session(false);
    const outputs = b.spikeOutputs.map((s) => s.output);
    const input = windowInput(HELDOUT, [0, 500], 32);
    const first = await session.run(input, outputs);
    const again = await session.run(input, outputs);
    for (const n of b.meta.neurons) {
      const spikes = first.extra.get(n.output)!;
      expect(spikes.dims).toEqual([16, 2, 32, n.channels]);
      let nonzero = 0;
      const bad: number[] = [];
      for (const v of spikes.data) {
        if (!Number.isInteger(v) || Math.abs(v) > n.levels || (n.kind === 'IF' && v < 0)) bad.push(v);
        if (v !== 0) nonzero += 1;
      }
      expect(bad, `${n.site}: values outside the allowed set`).toEqual([]);
      expect(nonzero).toBeGreaterThan(0);
      expect(nonzero).toBeLessThan(spikes.data.length);
      expect(again.extra.get(n.output)!.data).toEqual(spikes.data);
    }
  });

  it('gets better with more timesteps (fidelity curve)', async () => {
    const ratio = async (T: number) => {
      const bt = await bundleOf('faithful', GPT2_DIR, T);
      const r = await evaluate(bt, IDS, { window: 128 });
      await bt.release();
      return r.ratio!;
    };
    const [r4, r16] = [await ratio(4), await ratio(16)];
    expect(r4).toBeGreaterThan(r16);
  });
});

describe('stac recipe at T=16', () => {
  it('runs with IF neurons only; its loss against the source is the GELU→ReLU swap: within 1 % of the ReLU ANN (an independent reference)', async () => {
    const b = await bundleOf('stac');
    expect(b.meta.neurons.every((n) => n.kind === 'IF')).toBe(true);
    expect(b.meta.passes.map((p) => p.name)).toContain('gelu-to-relu');
    const r = await evaluate(b, HELDOUT, SPREAD);
    const relu = await openGraphSession(replaceGeluWithRelu(importHfModel(GPT2_DIR).graph).graph, 'ann');
    const reluAnn = await evaluate(b, HELDOUT, { ...SPREAD, snnSession: relu });
    await relu.release();
    expect(reluAnn.ratio!).toBeGreaterThan(1.1);
    expect(Math.abs(r.ratio! / reluAnn.ratio! - 1)).toBeLessThan(0.01);
    await b.release();
  });
});
