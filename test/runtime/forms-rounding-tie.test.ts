// The closed model.onnx and the stored step-by-step form give the same logits bit for bit on a held-out window
// where a neuron's input lands exactly on a rounding tie (x/u = 4.5 at ln_f): onnxruntime must not fuse the two
// forms' float ops differently (Add + LayerNormalization → SkipLayerNormalization moved that count by 1).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { windowInput } from '../../src/runtime/windows.js';
import { GPT2_DIR, tempDir } from '../helpers.js';

const HELDOUT = [...readFileSync(join(GPT2_DIR, 'heldout.txt'))];
let closed: Bundle;
let steps: Bundle;

beforeAll(async () => {
  // Small calibration (8 × 64 tokens): the thresholds that put bytes 1000..1063's ln_f input on a tie.
  const { bundlePath } = await convert(GPT2_DIR, { calibration: { samples: 8, length: 64 }, out: join(tempDir('snn-tie-'), 'm.snn') });
  closed = await loadBundle(bundlePath);
  steps = await loadBundle(bundlePath, { simulate: 'steps' });
});
afterAll(async () => { await closed?.release(); await steps?.release(); });

it('model.onnx (no spike outputs) and model-steps.onnx: identical logits on held-out bytes 1000..1063', async () => {
  expect(closed.form.file).toBe('model.onnx');
  expect(steps.form.file).toBe('model-steps.onnx');
  const ids = HELDOUT.slice(1000, 1064);
  const a = (await (await closed.session(false)).run(windowInput(ids, [0], ids.length))).logits;
  const b = (await (await steps.session(false)).run(windowInput(ids, [0], ids.length))).logits;
  const differing = a.reduce((n, x, i) => n + (x === b[i] ? 0 : 1), 0);
  expect(differing).toBe(0);
});
