// Calibration plan: how long the windows are, which positions they cover, and what one window costs in memory.
import { freemem } from 'node:os';
import { SnnError } from '../errors/index.js';
import type { Graph } from '../ir/types.js';
import { isNeuron } from '../ops/spiking.js';

/**
 * Memory one calibration window may take by default: the observed activations of every neuron site
 * (one float per channel and position, reduced to per-channel statistics as soon as the window returns)
 * plus one layer's attention scores. A context whose window exceeds it is calibrated on the longest
 * window that fits, and the positions left out are recorded and warned about.
 */
export const CALIBRATION_WINDOW_BUDGET = 1 << 30;

/**
 * Calibration tokens the default number of windows aims at: 32 windows up to a 512-token context, fewer
 * (at least 8) beyond, so whole-context windows do not multiply the observing (and sampling) cost.
 */
export const CALIBRATION_TOKEN_BUDGET = 16384;

/** Default windows for a window length: min(32, max(8, ⌊16 384 / length⌋)). */
export function defaultSamples(length: number): number {
  return Math.min(32, Math.max(8, Math.floor(CALIBRATION_TOKEN_BUDGET / length)));
}

export interface CalibrationPlan {
  readonly context: number;
  /** Tokens per window: positions 0 … length−1 are calibrated. */
  readonly length: number;
  readonly samples: number;
  /** Positions no window reaches ('length–context−1'), or null when every position is covered. */
  readonly uncovered: string | null;
  /** Why the windows are shorter than the context (null when they are not). */
  readonly why: string | null;
  /** Estimated peak bytes of one window (observed sites + one layer's attention scores). */
  readonly windowBytes: number;
}

/** Bytes one window of `length` tokens takes: observed site channels plus one layer's attention scores. */
export function windowBytes(graph: Graph, length: number): number {
  const channels = graph.nodes.filter(isNeuron).reduce((a, n) => a + (graph.weights.get(n.weights['threshold']!)?.shape[0] ?? 0), 0);
  return 4 * (channels * length + graph.spec.numHeads * length * length);
}

/**
 * Windows run up to the model's context by default (docs/design.md, calibration): thresholds then see
 * every position the model will run at. `length` beyond the context, or a window the machine cannot
 * hold, is a typed error before any work starts.
 */
/** Calibration tokens one conversion may observe (windows × length): bounds its time before any work starts. */
export const MAX_CALIBRATION_TOKENS = 1 << 20;

export function calibrationPlan(graph: Graph, opts: { readonly length?: number; readonly samples?: number; readonly freeBytes?: number }): CalibrationPlan {
  const context = graph.spec.maxPositions;
  for (const [flag, v] of [['--calib-samples', opts.samples ?? 1], ['--calib-length', opts.length ?? 1]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new SnnError('OPTION_INVALID', { message: `${flag} must be a positive integer, got ${v}`, at: flag });
  }
  if (opts.length !== undefined && opts.length > context) {
    throw new SnnError('OPTION_INVALID', { message: `--calib-length ${opts.length} is longer than the model's context of ${context} tokens`, at: '--calib-length', hint: `use --calib-length ≤ ${context} (the default is the whole context)` });
  }
  let length = opts.length ?? context;
  let why: string | null = opts.length !== undefined && opts.length < context ? `--calib-length ${opts.length}` : null;
  if (opts.length === undefined) {
    while (length > 16 && windowBytes(graph, length) > CALIBRATION_WINDOW_BUDGET) length = Math.floor(length / 2);
    if (length < context) why = `one window of the whole context needs ${mib(windowBytes(graph, context))}, over the ${mib(CALIBRATION_WINDOW_BUDGET)} calibration budget`;
  }
  const samples = opts.samples ?? defaultSamples(length);
  if (samples * length > MAX_CALIBRATION_TOKENS) {
    throw new SnnError('CALIBRATION_BUDGET', {
      message: `${samples} windows of ${length} tokens are ${samples * length} calibration tokens, beyond the budget of ${MAX_CALIBRATION_TOKENS} (each is run through the ANN, or sampled from it first)`,
      at: '--calib-samples',
      hint: `use at most ${Math.max(1, Math.floor(MAX_CALIBRATION_TOKENS / length))} --calib-samples of ${length} tokens; per-channel maxima settle long before that`,
    });
  }
  const bytes = windowBytes(graph, length);
  const free = opts.freeBytes ?? freemem();
  if (bytes > free / 2) {
    throw new SnnError('CALIBRATION_BUDGET', { message: `one calibration window of ${length} tokens needs about ${mib(bytes)}, more than half the ${mib(free)} of free memory`, at: '--calib-length', hint: `use a smaller --calib-length (at most ${Math.max(1, Math.floor(length * free / 2 / bytes))}) or free memory; positions beyond it are recorded as uncalibrated` });
  }
  return { context, length, samples, uncovered: length < context ? `${length}–${context - 1}` : null, why, windowBytes: bytes };
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}
