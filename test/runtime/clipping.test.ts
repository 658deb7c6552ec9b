// Clipped share on evaluated text: per site, from the saturation tensors of a real run; the warning fires
// when a site clips far more than calibration saw, and stays quiet on a well-calibrated bundle.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, type ConvertProgress } from '../../src/convert.js';
import { ClippingCounter, CLIPPING_WARN_SHARE } from '../../src/runtime/clipping.js';
import { evaluate } from '../../src/runtime/evaluate.js';
import { loadBundle } from '../../src/runtime/model.js';
import { CLI, GPT2_DIR, tempDir } from '../helpers.js';

const HELDOUT = [...readFileSync(join(GPT2_DIR, 'heldout.txt'))].slice(0, 3 * 128);

describe('ClippingCounter', () => {
  it('counts non-zero saturation entries per site and flags only sites far above calibration', () => {
    const c = new ClippingCounter(['saturation/a', 'saturation/b']);
    c.add(new Map([['saturation/a', { data: Float32Array.from([0, 1, 0, 0]) }], ['saturation/b', { data: new Float32Array(4) }]]));
    c.add(new Map([['saturation/a', { data: new Float32Array(4) }], ['saturation/b', { data: new Float32Array(4) }]]));
    const r = c.report(0);
    expect(r.sites.map((s) => [s.site, s.clipped, s.values])).toEqual([['a', 1, 8], ['b', 0, 8]]);
    expect(r.share).toBe(1 / 16);
    expect(r.flagged.map((s) => s.site)).toEqual(['a']);
    expect(r.warning).toContain('a 12.50 %');
    // Calibration that clipped 2 % itself: 12.5 % is below 10×, no warning.
    expect(c.report(0.02).warning).toBeNull();
  });
});

describe('eval on a bundle calibrated only on positions 0–15, without headroom', () => {
  let messages: string[] = [];
  let path = '';
  beforeAll(async () => {
    messages = [];
    const r = await convert(GPT2_DIR, { out: join(tempDir(), 'short.snn'), headroom: 0, calibration: { length: 16, samples: 4 }, onProgress: (p: ConvertProgress) => messages.push(p.message) });
    path = r.bundlePath;
  });

  it('records and warns about the positions calibration did not cover', async () => {
    const b = await loadBundle(path);
    expect(b.meta.calibration).toMatchObject({ context: 128, positionsCovered: 16, uncoveredPositions: '16–127', source: 'model' });
    expect(messages.some((m) => m.startsWith('warning:') && m.includes('16–127'))).toBe(true);
    await b.release();
  });

  it('the clipping warning fires, naming sites and the remedy', async () => {
    const b = await loadBundle(path);
    const r = await evaluate(b, HELDOUT, { window: 128 });
    expect(r.clipped!.share).toBeGreaterThan(CLIPPING_WARN_SHARE);
    expect(r.clipped!.flagged.length).toBeGreaterThan(0);
    expect(r.clipped!.warning).toContain(r.clipped!.flagged[0]!.site);
    expect(r.clipped!.warning).toContain('--calib-text');
    expect(r.clipped!.sites).toHaveLength(b.meta.neurons.length);
    await b.release();
  });
});

describe('eval on the default bundle', () => {
  it('reports the clipped share per site and stays quiet; KL and top-1 lead the result', async () => {
    const { bundlePath } = await convert(GPT2_DIR, { out: join(tempDir(), 'default.snn') });
    const b = await loadBundle(bundlePath);
    const r = await evaluate(b, HELDOUT, { window: 128 });
    expect(Object.keys(r).slice(0, 3)).toEqual(['kl', 'top1_agreement', 'ratio']);
    expect(r.clipped!.sites).toHaveLength(b.meta.neurons.length);
    expect(r.clipped!.share).toBeLessThan(CLIPPING_WARN_SHARE);
    expect(r.clipped!.warning).toBeNull();
    // The re-emitted form with saturation outputs gives the same logits as the bundle's model.onnx.
    const plain = await evaluate(b, HELDOUT, { window: 128, clipping: false });
    expect(plain.kl).toBe(r.kl);
    expect(plain.clipped).toBeNull();
    await b.release();

    // A sweep with a T the code cannot run fails before computing any T.
    const run = spawnSync(process.execPath, [CLI, 'eval', bundlePath, '--text', join(GPT2_DIR, 'heldout.txt'), '--timesteps-sweep', '4,23', '--max-windows', '1', '-q'], { encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('error[OPTION_INVALID]');
    expect(run.stdout).toBe('');
  });
});
