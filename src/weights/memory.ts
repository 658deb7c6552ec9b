// Memory before loading: what a conversion will need, what the machine has, and the refusal when it cannot fit.
import { existsSync, readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { SnnError } from '../errors/index.js';
import type { Graph } from '../ir/types.js';
import { float32Bytes } from './weight-data.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/**
 * Peak RSS of a conversion, the larger of its two phases, each the weights in float32 × its factor plus
 * FIXED_BYTES (node, onnxruntime, the tokenizer, and what the C allocator keeps from earlier phases):
 * - calibration: one float model's weights (the observing session's packed copy, the forms being written;
 *   the sampler's 8-bit copy is smaller), plus the larger of the sampler's K/V and one calibration window;
 * - the report, after calibration's sessions are gone: the source ANN's and the spiking form's sessions
 *   over the mapped weights (and a token table Gathered from its file), plus one report window
 *   (report/budget.ts reportWindowBytes).
 * Fitted as upper bounds, at least 10 % above the peaks of each phase measured at the defaults
 * (bench/RESULTS.md, GB, estimates in parentheses): calibration distilgpt2-shaped 0.92 (1.64; 1.16 with
 * `--calib-sampler float`), SmolLM2-135M-shaped 1.22 (1.99), Qwen2.5-0.5B-shaped 3.07 (3.61),
 * Qwen2.5-1.5B-shaped 6.89 (7.82); report 0.98 (1.37), 1.58 (1.75), 3.41 (4.21), 8.41 (11.41).
 */
export const PEAK_OVER_WEIGHTS = { convert: 1, report: 1.7 } as const;
const FIXED_BYTES = 680 * MIB;

/** Bytes of the graph's weights as float32 (how every stage but the file itself holds them). */
export function float32WeightBytes(graph: Graph): number {
  let n = 0;
  for (const w of graph.weights.values()) n += float32Bytes(w);
  return n;
}

/** The estimated peak: calibration's (with `calibrationBytes` on top of the weights' share), or the report's (with `reportBytes`) when larger. */
export function estimateConversionBytes(weightBytes: number, opts: { readonly report: boolean; readonly calibrationBytes?: number; readonly reportBytes?: number }): number {
  const calibration = Math.ceil(weightBytes * PEAK_OVER_WEIGHTS.convert + FIXED_BYTES + (opts.calibrationBytes ?? 0));
  return opts.report ? Math.max(calibration, Math.ceil(weightBytes * PEAK_OVER_WEIGHTS.report + FIXED_BYTES + (opts.reportBytes ?? 0))) : calibration;
}

/** Memory this process can still take: the kernel's MemAvailable, bounded by a cgroup limit when there is one. */
export function availableMemoryBytes(): number {
  const meminfo = readIf('/proc/meminfo');
  const avail = meminfo ? /MemAvailable:\s+(\d+) kB/.exec(meminfo) : null;
  let bytes = avail ? Number(avail[1]) * 1024 : freemem();
  const max = readIf('/sys/fs/cgroup/memory.max')?.trim();
  const current = readIf('/sys/fs/cgroup/memory.current')?.trim();
  if (max && current && /^\d+$/.test(max) && /^\d+$/.test(current)) bytes = Math.min(bytes, Number(max) - Number(current));
  return bytes;
}

/**
 * Refuses a conversion whose estimated peak exceeds `availableBytes` (default: availableMemoryBytes()),
 * before anything is loaded: a typed MEMORY_INSUFFICIENT, never an out-of-memory kill halfway. Returns
 * the estimate and the memory available when it fits.
 */
export function checkConversionMemory(graph: Graph, opts: { readonly report: boolean; readonly availableBytes?: number; readonly at: string; readonly samplingBytes?: number; readonly windowBytes?: number; readonly reportBytes?: number }): { readonly need: number; readonly available: number } {
  const weights = float32WeightBytes(graph);
  // One calibration window (calibrate/plan.ts windowBytes) bounds observing: it runs the window in chunks.
  const window = opts.windowBytes ?? 0;
  const sampling = opts.samplingBytes ?? 0;
  const reportBytes = opts.reportBytes ?? 0;
  const need = estimateConversionBytes(weights, { report: opts.report, calibrationBytes: Math.max(sampling, window), reportBytes });
  const available = opts.availableBytes ?? availableMemoryBytes();
  if (need <= available) return { need, available };
  const withoutReport = estimateConversionBytes(weights, { report: false, calibrationBytes: Math.max(sampling, window) });
  const reportLeads = opts.report && need > withoutReport;
  const options = [
    ...(opts.report && withoutReport <= available ? [`--no-report (about ${gib(withoutReport)}; run snnconvert report later on a larger machine)`] : opts.report ? ['--no-report'] : []),
    ...(sampling > 0 && sampling >= window ? ['--calib-length or --calib-samples (the sampling cache grows with both), or --calib-source corpus (no sampling)'] : window > 0 ? ['a smaller --calib-length (the calibration window grows with it)'] : []),
    'close other programs or use a machine with more memory',
  ];
  // The terms of the phase that sets the estimate, so that they add up to it.
  const parts = reportLeads
    ? [...(reportBytes ? [`plus ${gib(reportBytes)} for one report window`] : [])]
    : sampling > 0 && sampling >= window ? [`plus ${gib(sampling)} of K/V cache for sampling calibration text from the model`]
      : window > 0 ? [`plus ${gib(window)} for one calibration window`] : [];
  const phase = reportLeads ? 'the report' : 'calibration';
  throw new SnnError('MEMORY_INSUFFICIENT', {
    message: `converting this model needs about ${gib(need)} (${phase}: ${gib(weights)} of float32 weights × ${reportLeads ? PEAK_OVER_WEIGHTS.report : PEAK_OVER_WEIGHTS.convert}${parts.map((p) => `, ${p}`).join('')}, plus ${gib(FIXED_BYTES)} for the process), but only ${gib(available)} is available`,
    at: opts.at,
    hint: `options that reduce it: ${options.join('; ')}`,
  });
}

export const gib = (bytes: number): string => `${(bytes / GIB).toFixed(2)} GiB`;

function readIf(path: string): string | null {
  try { return existsSync(path) ? readFileSync(path, 'utf8') : null; } catch { return null; }
}

/**
 * K/V cache bytes of sampling `rows` × `length` tokens from the model through the growing cache (windows of
 * one document, calibrate/sample.ts; longer windows use the sampler's buffers, samplingBytes there): the
 * previous step's cache, onnxruntime's present output and its copy on the JS side are alive at once
 * (distilgpt2-shaped, 16 × 1 024: 0.6 GB per copy, peak 4.46 GB over 0.33 GB of weights; bench/RESULTS.md).
 */
export function samplingCacheBytes(graph: Graph, rows: number, length: number): number {
  const { numLayers, numKvHeads, headDim } = graph.spec;
  return 3 * rows * length * numLayers * 2 * numKvHeads * headDim * 4;
}
