// Membrane traces: the neuron's membrane re-derived from its observed input current, checked against its spikes.
import { nafMax, unitCount } from '../ops/spike-code.js';
import type { MembraneStep } from './types.js';

export interface MembraneInput {
  /** The neuron's input current as observed on the SNN: [T, 1, S, D] when timed, else [1, S, D] (the same every step). */
  readonly current: Float32Array;
  readonly timed: boolean;
  /** The site's emitted spikes, [T, 1, S, D]. */
  readonly spikes: Float32Array;
  readonly thresholds: Float32Array;
  readonly levels: number;
  readonly signed: boolean;
  readonly timesteps: number;
  readonly seq: number;
  /** Spike code of the site (default rate). */
  readonly code?: 'weighted' | 'rate';
  /** Weighted code: digits above the calibrated range (u = θ/M_(T−h)); default 0. */
  readonly headroom?: number;
}

/** ONNX Round: half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Replays the neuron of ops/spiking.ts in float32: on the shifted membrane w (units of u = θ/levels),
 * w ← w + x_t/u; s_t = clip(round(w), lo, hi); w ← w − s_t. Equivalently w_t = Σ_{≤t} x/u − Σ_{<t} s.
 * `membrane` is w after integrating x_t and before the reset: the neuron fires where |w| ≥ ½.
 */
export function replayNeuron(input: MembraneInput, token: number, channel: number): MembraneStep[] {
  if (input.code === 'weighted') return replayWeighted(input, token, channel);
  const { current, timed, thresholds, levels, signed, timesteps: T, seq: S } = input;
  const D = thresholds.length;
  const unit = Math.fround(thresholds[channel]! / levels);
  const lo = signed ? -levels : 0;
  const steps: MembraneStep[] = [];
  let w = 0;
  for (let t = 0; t < T; t++) {
    const x = current[(timed ? t * S + token : token) * D + channel]!;
    const c = Math.fround(x / unit);
    w = t === 0 ? c : Math.fround(w + c);
    const s = Math.min(levels, Math.max(lo, roundHalfEven(w)));
    steps.push({ t, current: x, membrane: w, spike: s });
    w = Math.fround(w - s);
  }
  return steps;
}

/**
 * Replays the weighted-code neuron (ops/spiking.ts, ops/spike-code.ts): the integrated input x becomes
 * the count q = clip(round(x/u), lo, M_T) with u = θ/M_T; at step t the neuron fires sign(r) when the
 * remaining count |r| exceeds M_k (k = T−1−t) and subtracts 2^k. `membrane` is r before the step.
 */
function replayWeighted(input: MembraneInput, token: number, channel: number): MembraneStep[] {
  const { current, thresholds, signed, timesteps: T } = input;
  const D = thresholds.length;
  const M = nafMax(T);
  const unit = Math.fround(thresholds[channel]! / unitCount(T, input.headroom ?? 0));
  const x = current[token * D + channel]!;
  let rest = Math.min(M, Math.max(signed ? -M : 0, roundHalfEven(Math.fround(x / unit))));
  const steps: MembraneStep[] = [];
  for (let t = 0; t < T; t++) {
    const k = T - 1 - t;
    const spike = Math.abs(rest) > nafMax(k) ? Math.sign(rest) : 0;
    steps.push({ t, current: x, membrane: rest, spike });
    rest -= spike * 2 ** k;
  }
  return steps;
}

/** Replays every (token, channel) of the site and counts spikes that differ from the emitted ones. */
export function checkReplay(input: MembraneInput): { compared: number; mismatches: number } {
  const D = input.thresholds.length;
  let mismatches = 0;
  for (let j = 0; j < input.seq; j++) {
    for (let d = 0; d < D; d++) {
      for (const step of replayNeuron(input, j, d)) {
        if (step.spike !== input.spikes[(step.t * input.seq + j) * D + d]) mismatches += 1;
      }
    }
  }
  return { compared: input.timesteps * input.seq * D, mismatches };
}
