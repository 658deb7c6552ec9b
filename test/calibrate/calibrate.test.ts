// Calibration: windows sampled from real text, reproducibly; per-channel percentiles against a sort.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCalibrationData, DEFAULT_CALIBRATION_TEXT } from '../../src/calibrate/data.js';
import { ChannelTopK, parseThreshold, THRESHOLD_MODES, type ThresholdMode } from '../../src/calibrate/thresholds.js';
import { SnnError } from '../../src/errors/index.js';
import { mulberry32 } from '../../src/util/random.js';
import { tempDir } from '../helpers.js';

const bytes = { encode: (s: string) => [...Buffer.from(s, 'utf8')] };

describe('createCalibrationData', () => {
  it('samples windows of the shipped corpus, the same ones for the same seed', () => {
    const a = createCalibrationData(bytes, { numSamples: 8, maxLength: 64 });
    const b = createCalibrationData(bytes, { numSamples: 8, maxLength: 64 });
    expect(a.text).toBe(DEFAULT_CALIBRATION_TEXT);
    expect(a.samples).toHaveLength(8);
    expect(a.samples.every((s) => s.length === 64)).toBe(true);
    expect(a.samples).toEqual(b.samples);
    expect(createCalibrationData(bytes, { numSamples: 8, maxLength: 64, seed: 1 }).samples).not.toEqual(a.samples);
    // Every window is a real passage of the text, not random ids.
    const text = readFileSync(DEFAULT_CALIBRATION_TEXT);
    for (const s of a.samples) expect(text.includes(Buffer.from(s))).toBe(true);
  });

  it('refuses a text too short for the samples asked, naming the numbers', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'short.txt'), 'x'.repeat(100));
    try {
      createCalibrationData(bytes, { numSamples: 10, maxLength: 95, text: join(dir, 'short.txt') });
      throw new Error('expected a throw');
    } catch (e) {
      expect((e as SnnError).code).toBe('CALIBRATION_TEXT');
      // The calibration split is the first 90 % of the text's 100 tokens.
      expect((e as SnnError).message).toContain('90 tokens in the calibration split');
      expect((e as SnnError).message).toContain('104');
    }
  });

  it.each([0, -1, 2.5])('refuses %s samples', (n) => {
    expect(() => createCalibrationData(bytes, { numSamples: n, maxLength: 8 })).toThrow(SnnError);
  });
});

/** Nearest-rank percentile by sorting everything (the independent reference). */
function sortedPercentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)]!;
}

describe('ChannelTopK', () => {
  const Q: Record<ThresholdMode, number> = { max: 1, p99: 0.99, 'p99.9': 0.999, 'p99.99': 0.9999 };
  it.each(THRESHOLD_MODES)('%s per channel equals a full sort, streamed in batches, with |x| for SignedIF', (mode) => {
    const rows = 5000, C = 7;
    const r = mulberry32(3);
    const data = Float32Array.from({ length: rows * C }, (_, i) => (r() - 0.5) * (1 + (i % C)) * (r() < 0.01 ? 20 : 1));
    const topk = new ChannelTopK(C, mode, rows);
    for (let start = 0; start < rows; start += 1000) topk.add(data.subarray(start * C, (start + 1000) * C), true);
    const theta = topk.thresholds();
    for (let c = 0; c < C; c++) {
      const col = Array.from({ length: rows }, (_, i) => Math.abs(data[i * C + c]!));
      expect(theta[c]).toBeCloseTo(sortedPercentile(col, Q[mode]), 6);
    }
  });

  it('gives a floor, not zero, for a silent channel (θ divides the input)', () => {
    const topk = new ChannelTopK(2, 'max', 10);
    topk.add(new Float32Array(20), false);
    expect(Array.from(topk.thresholds())).toEqual([1e-6, 1e-6].map((v) => Math.fround(v)));
  });

  it('an unknown mode lists the valid ones', () => {
    expect(() => parseThreshold('p50')).toThrow(/max, p99, p99\.9, p99\.99/);
  });
});
