// The report's memory budget: what one window costs beyond the weights, and the refusal when a budget cannot hold it.
import { SnnError } from '../errors/index.js';
import type { ModelSpec } from '../ir/types.js';

const MIB = 1024 * 1024;

export interface WindowCostInput {
  readonly spec: ModelSpec;
  readonly timesteps: number;
  readonly window: number;
  /** The widest neuron site (channels). */
  readonly maxChannels: number;
  /** Tokens per call (the window runs in chunks over the KV cache). */
  readonly chunk: number;
}

/**
 * Bytes one report window needs beyond the loaded weights, an upper estimate. A window runs in chunks
 * over the KV cache, so per call: the larger of the fidelity step (ANN and SNN logits of a chunk,
 * both held, float32) and the spike pass (a site's T digit planes for a chunk and the few same-sized
 * tensors its in-graph counts derive from them), plus what grows with the window: the K/V cache of
 * both models and one layer's attention scores of a chunk against the whole window, and a 4×-wide MLP
 * block of the chunk. Spike counts come back as [rows, channels] per site: the number of sites does not enter.
 */
export function reportWindowBytes({ spec, timesteps, window, maxChannels, chunk }: WindowCostInput): number {
  const f32 = 4;
  const c = Math.min(chunk, window);
  const logits = 2 * c * spec.vocabSize * f32;
  const planes = 4 * timesteps * c * maxChannels * f32;
  const cache = 2 * 2 * spec.numLayers * window * spec.numKvHeads * spec.headDim * f32;
  const activations = spec.numHeads * c * window * f32 + 2 * c * 4 * spec.hiddenSize * f32;
  return Math.max(logits, planes) + cache + activations;
}

/** Throws REPORT_BUDGET when `budgetBytes` cannot hold one window; the windows run one at a time, so one is enough. */
export function checkReportBudget(input: WindowCostInput, budgetBytes: number): void {
  const need = reportWindowBytes(input);
  if (need <= budgetBytes) return;
  const shorter = largestWindowWithin(input, budgetBytes);
  throw new SnnError('REPORT_BUDGET', {
    message: `one report window of ${input.window} tokens needs about ${Math.ceil(need / MIB)} MiB beyond the weights (chunks of ${Math.min(input.chunk, input.window)} tokens: logits over ${input.spec.vocabSize} tokens, T=${input.timesteps} spike planes of ${input.maxChannels} channels; the K/V cache of the window); the report budget is ${Math.floor(budgetBytes / MIB)} MiB`,
    at: '--report-memory',
    hint: `raise --report-memory to at least ${Math.ceil(need / MIB)}${shorter >= 2 ? `, or give --window ${shorter} (energy is then counted over windows shorter than the context, as report.json states)` : ''}, or convert with --no-report`,
  });
}

function largestWindowWithin(input: WindowCostInput, budgetBytes: number): number {
  let lo = 1, hi = input.window;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (reportWindowBytes({ ...input, window: mid }) <= budgetBytes) lo = mid; else hi = mid - 1;
  }
  return reportWindowBytes({ ...input, window: lo }) <= budgetBytes ? lo : 0;
}
