// The ANN reference path against independent references: eval.json perplexities computed in PyTorch.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, type EvaluateOptions } from '../../src/runtime/evaluate.js';
import { loadHfAnn } from '../../src/open/hf-ann.js';
import { GPT2_DIR, LLAMA_DIR } from '../helpers.js';

describe.each([['shakespeare-gpt2', GPT2_DIR], ['shakespeare-llama', LLAMA_DIR]])('ANN perplexity of %s', (_name, dir) => {
  const ref = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as { ppl: number; tokens: number; windows: number; window: number; stride: number };

  /** Our ANN on the whole held-out text, eval.json's windows. */
  async function annPerplexity(opts: EvaluateOptions) {
    const model = await loadHfAnn(dir);
    const ids = model.tokenizer.encode(readFileSync(join(dir, 'heldout.txt'), 'utf8'));
    try { return await evaluate(model, ids, { window: ref.window, stride: ref.stride, annOnly: true, ...opts }); } finally { await model.release(); }
  }

  it('equals eval.json (PyTorch) within 0.2% on the whole held-out text, same windows', async () => {
    const r = await annPerplexity({ batch: 16 });
    expect(r.windows).toBe(ref.windows);
    expect(r.tokens).toBe(ref.tokens);
    expect(Math.abs(r.ann.ppl / ref.ppl - 1)).toBeLessThan(0.002);
    // In practice the two agree to ~1e-7: any real regression shows up far above this.
    expect(Math.abs(r.ann.ppl / ref.ppl - 1)).toBeLessThan(1e-5);
  }, 180_000);

  it('equals eval.json the same way when each window runs in pieces of 48 tokens through the KV cache', async () => {
    expect(48).toBeLessThan(ref.window);
    const r = await annPerplexity({ chunk: 48 });
    expect(r.tokens).toBe(ref.tokens);
    expect(Math.abs(r.ann.ppl / ref.ppl - 1)).toBeLessThan(1e-5);
  }, 180_000);
});
