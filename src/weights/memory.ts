// Memory before loading: what a conversion will need, what the machine has, and the refusal when it cannot fit.
import { existsSync, readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { SnnError } from '../errors/index.js';
import type { Graph } from '../ir/types.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/**
 * Peak RSS of a conversion, the larger of its two phases. Calibration: the weights in float32 × `convert`,
 * a fixed part (node, onnxruntime, the tokenizer), the calibration window's working set ×
 * CALIBRATION_WINDOW_COPIES and the sampling cache (prepacked weights and onnxruntime's arena holding the
 * largest call). The report, after calibration's sessions are gone: the weights × `report` and the fixed
 * part (one model in memory at a time, and the synapse integers of the form it emits). Fitted as upper
 * bounds to the peaks measured at the defaults (bench/RESULTS.md, peaks of each phase in GB, estimates
 * in parentheses): calibration distilgpt2-shaped 1.60 (2.70), SmolLM2-135M-shaped 2.92 (4.27),
 * Qwen2.5-0.5B-shaped 5.18 (8.24); report 1.42 (1.61), 1.89 (2.25), 5.71 (6.57).
 */
export const PEAK_OVER_WEIGHTS = { convert: 2.25, report: 3 } as const;
const FIXED_BYTES = 600 * MIB;
/** One calibration window's observed activations and attention scores (calibrate/plan.ts windowBytes), as onnxruntime holds them. */
export const CALIBRATION_WINDOW_COPIES = 3;

/** Bytes of the graph's weights as float32 (how every stage but the file itself holds them). */
export function float32WeightBytes(graph: Graph): number {
  let n = 0;
  for (const w of graph.weights.values()) n += w.shape.reduce((a, d) => a * d, 1) * 4;
  return n;
}

/** The estimated peak: calibration's (with `calibrationBytes` on top of the weights' share), or the report's when larger. */
export function estimateConversionBytes(weightBytes: number, opts: { readonly report: boolean; readonly calibrationBytes?: number }): number {
  const calibration = Math.ceil(weightBytes * PEAK_OVER_WEIGHTS.convert + FIXED_BYTES + (opts.calibrationBytes ?? 0));
  return opts.report ? Math.max(calibration, Math.ceil(weightBytes * PEAK_OVER_WEIGHTS.report + FIXED_BYTES)) : calibration;
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
 * before anything is loaded: a typed MEMORY_INSUFFICIENT, never an out-of-memory kill halfway.
 */
export function checkConversionMemory(graph: Graph, opts: { readonly report: boolean; readonly availableBytes?: number; readonly at: string; readonly samplingBytes?: number; readonly windowBytes?: number }): void {
  const weights = float32WeightBytes(graph);
  const extra = (opts.samplingBytes ?? 0) + Math.ceil((opts.windowBytes ?? 0) * CALIBRATION_WINDOW_COPIES);
  const need = estimateConversionBytes(weights, { report: opts.report, calibrationBytes: extra });
  const available = opts.availableBytes ?? availableMemoryBytes();
  if (need <= available) return;
  const withoutReport = estimateConversionBytes(weights, { report: false, calibrationBytes: extra });
  const reportLeads = opts.report && need > withoutReport;
  const options = [
    ...(opts.report && withoutReport <= available ? [`--no-report (about ${gib(withoutReport)}; run snnconvert report later on a larger machine)`] : opts.report ? ['--no-report'] : []),
    ...(opts.samplingBytes ? ['--calib-length or --calib-samples (the sampling cache grows with both), or --calib-source corpus (no sampling)'] : opts.windowBytes ? ['a smaller --calib-length (the calibration window grows with it)'] : []),
    'close other programs or use a machine with more memory',
  ];
  const parts = reportLeads ? [] : [
    ...(opts.windowBytes ? [`plus ${gib(opts.windowBytes * CALIBRATION_WINDOW_COPIES)} for one calibration window`] : []),
    ...(opts.samplingBytes ? [`plus ${gib(opts.samplingBytes)} of K/V cache for sampling calibration text from the model`] : []),
  ];
  const phase = reportLeads ? 'the report' : 'calibration';
  throw new SnnError('MEMORY_INSUFFICIENT', {
    message: `converting this model needs about ${gib(need)} (${phase}: ${gib(weights)} of float32 weights × ${reportLeads ? PEAK_OVER_WEIGHTS.report : PEAK_OVER_WEIGHTS.convert}${parts.map((p) => `, ${p}`).join('')}), but only ${gib(available)} is available`,
    at: opts.at,
    hint: `options that reduce it: ${options.join('; ')}`,
  });
}

const gib = (bytes: number): string => `${(bytes / GIB).toFixed(2)} GiB`;

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
