// The memory check before loading: estimate from the weights, refusal with the estimate, the memory available and the ways out.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { isSnnError } from '../../src/errors/index.js';
import { importHfModel } from '../../src/import/hf/index.js';
import { availableMemoryBytes, checkConversionMemory, estimateConversionBytes, float32WeightBytes, PEAK_OVER_WEIGHTS } from '../../src/weights/memory.js';
import { GPT2_DIR, tempDir } from '../helpers.js';

describe('conversion memory check', () => {
  const graph = importHfModel(GPT2_DIR).graph;

  it('counts the weights as float32 from their shapes: 4 layers of 128 wide, 257 tokens, 128 positions (tied head)', () => {
    const d = 128;
    const perLayer = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
    const expected = (257 * d + 128 * d + 4 * perLayer + 2 * d) * 4;
    expect(float32WeightBytes(graph)).toBe(expected);
  });

  it('estimates more with the report than without, and reads a positive amount of available memory', () => {
    const w = 1e9;
    expect(estimateConversionBytes(w, { report: true })).toBeGreaterThan(estimateConversionBytes(w, { report: false }));
    expect(estimateConversionBytes(w, { report: false })).toBeGreaterThanOrEqual(w * PEAK_OVER_WEIGHTS.convert);
    expect(availableMemoryBytes()).toBeGreaterThan(0);
  });

  it('takes the larger of the two phases: calibration (weights, window, sampling cache) or the report after it', () => {
    const w = 1e9, big = 4e9;
    expect(estimateConversionBytes(w, { report: true })).toBe(estimateConversionBytes(w, { report: false }) + w * (PEAK_OVER_WEIGHTS.report - PEAK_OVER_WEIGHTS.convert));
    expect(estimateConversionBytes(w, { report: true, calibrationBytes: big })).toBe(estimateConversionBytes(w, { report: false, calibrationBytes: big }));
    let error: unknown;
    try { checkConversionMemory(graph, { report: true, at: 'x', availableBytes: 1, windowBytes: 1 << 30 }); } catch (e) { error = e; }
    expect(String((error as Error).message)).toMatch(/\(calibration: .* calibration window/);
    try { checkConversionMemory(graph, { report: true, at: 'x', availableBytes: 1 }); } catch (e) { error = e; }
    expect(String((error as Error).message)).toContain(`(the report: `);
  });

  it('refuses before loading with MEMORY_INSUFFICIENT naming the estimate, the memory available and --no-report', () => {
    const need = estimateConversionBytes(float32WeightBytes(graph), { report: true });
    const noReport = estimateConversionBytes(float32WeightBytes(graph), { report: false });
    const err = (() => { try { checkConversionMemory(graph, { report: true, availableBytes: noReport, at: GPT2_DIR }); return null; } catch (e) { return e; } })();
    expect(isSnnError(err) && err.code).toBe('MEMORY_INSUFFICIENT');
    expect((err as Error).message).toContain(`${(need / 2 ** 30).toFixed(2)} GiB`);
    expect((err as Error).message).toContain(`only ${(noReport / 2 ** 30).toFixed(2)} GiB is available`);
    expect(isSnnError(err) && err.hint).toMatch(/--no-report/);
    expect(() => checkConversionMemory(graph, { report: false, availableBytes: noReport, at: GPT2_DIR })).not.toThrow();
  });

  it('makes convert() refuse a model that does not fit before writing anything', async () => {
    const out = join(tempDir('snn-mem-'), 'model.snn');
    const err = await convert(undefined, { out, memoryLimit: 1024 * 1024 }).then(() => null, (e: unknown) => e);
    expect(isSnnError(err) && err.code).toBe('MEMORY_INSUFFICIENT');
    expect(existsSync(out)).toBe(false);
  });
});

describe('sampling calibration text counts its K/V cache', () => {
  it('adds three copies of rows × length × layers × K and V × kv heads × head dim floats to the estimate, and names how to shrink it', async () => {
    const { importHfModel } = await import('../../src/import/hf/index.js');
    const { samplingCacheBytes, checkConversionMemory, float32WeightBytes, estimateConversionBytes } = await import('../../src/weights/memory.js');
    const { graph } = importHfModel('fixtures/shakespeare-gpt2'); // 4 layers, 4 heads of 32
    const cache = samplingCacheBytes(graph, 32, 128);
    expect(cache).toBe(3 * 32 * 128 * 4 * 2 * 4 * 32 * 4);
    const base = estimateConversionBytes(float32WeightBytes(graph), { report: true });
    expect(() => checkConversionMemory(graph, { report: true, at: 'x', availableBytes: base })).not.toThrow();
    let error: unknown;
    try { checkConversionMemory(graph, { report: true, at: 'x', availableBytes: base, samplingBytes: cache }); } catch (e) { error = e; }
    expect((error as { code?: string }).code).toBe('MEMORY_INSUFFICIENT');
    expect(String((error as Error).message)).toContain('K/V cache');
    expect(String((error as { hint?: string }).hint ?? (error as Error).message)).toContain('--calib-source corpus');
  });
});

describe('a calibration window counts in the estimate', () => {
  it('adds the window, refuses past it, and names --calib-length', async () => {
    const { importHfModel } = await import('../../src/import/hf/index.js');
    const { checkConversionMemory, float32WeightBytes, estimateConversionBytes } = await import('../../src/weights/memory.js');
    const { graph } = importHfModel('fixtures/shakespeare-gpt2');
    const base = estimateConversionBytes(float32WeightBytes(graph), { report: false });
    const window = 64 << 20;
    const withWindow = base + window;
    expect(() => checkConversionMemory(graph, { report: false, at: 'x', availableBytes: withWindow, windowBytes: window })).not.toThrow();
    let error: unknown;
    try { checkConversionMemory(graph, { report: false, at: 'x', availableBytes: withWindow - 1, windowBytes: window }); } catch (e) { error = e; }
    expect((error as { code?: string }).code).toBe('MEMORY_INSUFFICIENT');
    expect(String((error as Error).message)).toContain('calibration window');
    expect(String((error as { hint?: string }).hint ?? '')).toContain('--calib-length');
  });
});

describe('the estimate\'s phases and terms', () => {
  const { graph } = importHfModel(GPT2_DIR);
  const refusal = (opts: Parameters<typeof checkConversionMemory>[1]): Error => {
    try { checkConversionMemory(graph, opts); } catch (e) { return e as Error; }
    throw new Error('test setup: expected a refusal');
  };
  const gibOf = (message: string, what: RegExp) => Number(new RegExp(`([\\d.]+) GiB ${what.source}`).exec(message)?.[1]);

  it('calibration holds the larger of the sampler\'s K/V and one window, not both', () => {
    const big = 2 ** 30, small = 2 ** 28;
    const one = checkConversionMemory(graph, { report: false, at: 'x', availableBytes: 1e15, samplingBytes: big, windowBytes: small }).need;
    expect(one).toBe(estimateConversionBytes(float32WeightBytes(graph), { report: false, calibrationBytes: big }));
    const swapped = checkConversionMemory(graph, { report: false, at: 'x', availableBytes: 1e15, samplingBytes: small, windowBytes: big }).need;
    expect(swapped).toBe(one);
    const e = refusal({ report: false, at: 'x', availableBytes: 1, samplingBytes: small, windowBytes: big });
    expect(e.message).toContain('for one calibration window');
    expect(e.message).not.toContain('K/V cache');
  });

  it('the report phase adds one report window, and the message\'s terms add up to the estimate', () => {
    const reportBytes = 2 ** 31;
    const e = refusal({ report: true, at: 'x', availableBytes: 1, reportBytes, samplingBytes: 2 ** 20 });
    expect(e.message).toContain('(the report: ');
    const need = Number(/needs about ([\d.]+) GiB/.exec(e.message)![1]);
    const w = gibOf(e.message, /of float32 weights/) * PEAK_OVER_WEIGHTS.report;
    const sum = w + gibOf(e.message, /for one report window/) + gibOf(e.message, /for the process/);
    expect(Math.abs(sum - need)).toBeLessThan(0.02);
    expect(checkConversionMemory(graph, { report: false, at: 'x', availableBytes: 1e15, reportBytes }).need).toBeLessThan(checkConversionMemory(graph, { report: true, at: 'x', availableBytes: 1e15, reportBytes }).need);
  });

  it('convert() states its estimate and the memory available before the work starts', async () => {
    const messages: string[] = [];
    await convert(undefined, { out: join(tempDir('snn-mem-'), 'm.snn'), timesteps: 4, calibration: { samples: 2, length: 32 }, onProgress: (p) => messages.push(p.message) });
    const line = messages.find((m) => m.startsWith('memory: '));
    expect(line).toMatch(/^memory: about \d+\.\d\d GiB at the peak \(estimated; \d+\.\d\d GiB available\)$/);
    expect(messages.indexOf(line!)).toBeLessThan(messages.findIndex((m) => m.startsWith('calibration data:')));
  });
});

