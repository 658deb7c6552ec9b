// The tiny OPT and Qwen2 convert at the defaults and stay faithful to their ANN on held-out text (never used for a choice).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert } from '../../../src/convert.js';
import { evaluate } from '../../../src/runtime/evaluate.js';
import { loadBundle } from '../../../src/runtime/model.js';
import { FIXTURES, tempDir } from '../../helpers.js';

describe.each([['opt-dialogue'], ['qwen2-dialogue']])('%s converted at the defaults', (name) => {
  it('KL ≤ 0.01 and perplexity ratio within 1 % on 24 held-out windows spread over the text', async () => {
    const dir = join(FIXTURES, name);
    const heldout = [...readFileSync(join(dir, 'heldout.txt'))];
    const { bundlePath } = await convert(dir, { out: join(tempDir(), `${name}.snn`) });
    const b = await loadBundle(bundlePath);
    const r = await evaluate(b, heldout, { window: 128, stride: Math.floor((heldout.length - 128) / 23) });
    await b.release();
    expect(r.windows).toBe(24);
    expect(r.kl!).toBeLessThanOrEqual(0.01);
    expect(Math.abs(r.ratio! - 1)).toBeLessThanOrEqual(0.01);
  }, 240_000);
});
