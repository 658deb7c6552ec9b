// The event reference's neuron: a signed-digit (weighted-code) neuron simulated step by step with a membrane, thresholds and subtraction.
//
// Few-spike / bit-plane neuron (Stöckl & Maass 2021) with signed digits: the membrane v, measured in
// units u = θ/M_(T−h) (h headroom digits above the calibrated range θ, docs/design.md §2), takes the
// phase's input current. At step t (k = T−1−t lower steps left) it fires +1
// when v is above the threshold M_k + ½ and −1 when below −(M_k + ½), then subtracts the fired
// weight ±2^k. M_k = ⌊(2^(k+1) − 1)/3⌋ is the largest magnitude the k lower steps can still send, so a
// membrane left within ±(M_k + ½) is sent later; the train is the non-adjacent form of the membrane's
// nearest integer. A membrane exactly on a threshold (v = ±(M_k + ½)) fires when that lands it on an
// even count (round half to even, the convention of IEEE and ONNX Round). The membrane saturates at
// the largest count the train can carry (±M_T; 0 below for an unsigned IF neuron): such a train is
// counted as clipped.
//
// Nothing here rounds the input: the digits come from comparisons and subtractions on the membrane.

/** M_k: the largest count k signed non-adjacent digits can carry (recomputed here, not shared with the closed form). */
export function largestCount(steps: number): number {
  let m = 0;
  // M_k = 2·M_{k−1} + (k odd ? 1 : 0): 0, 1, 2, 5, 10, 21, 42, 85, …
  for (let k = 1; k <= steps; k++) m = 2 * m + (k % 2);
  return m;
}

/** Whether a membrane exactly on the threshold M + ½ fires: when the count it lands on (M + 1) is even. */
function fireOnTie(m: number): boolean {
  return (m + 1) % 2 === 0;
}

export interface NeuronParams {
  /** Steps per phase T. */
  readonly steps: number;
  /** Lowest count: −M_T (SignedIF) or 0 (IF). */
  readonly low: number;
  /** Highest count: M_T. */
  readonly high: number;
  /** M_k for k = 0..T−1 (thresholds M_k + ½). */
  readonly levels: readonly number[];
}

export function neuronParams(steps: number, signed: boolean): NeuronParams {
  const high = largestCount(steps);
  return { steps, low: signed ? -high : 0, high, levels: Array.from({ length: steps }, (_, k) => largestCount(k)) };
}

export interface Phase {
  /** Spikes per step, most significant first (each −1, 0 or +1). */
  readonly spikes: number[];
  /** True when the membrane saturated (the input needs more than the train can carry). */
  readonly clipped: boolean;
  /** The membrane after every step (for traces and tests). */
  readonly trace: number[];
}

/** Whether a membrane v lies above m + ½ (ties by fireOnTie). */
function above(v: number, m: number): boolean {
  return v > m + 0.5 || (v === m + 0.5 && fireOnTie(m));
}

/** Whether a membrane v lies below −(m + ½) (ties by fireOnTie). */
function below(v: number, m: number): boolean {
  return above(-v, m);
}

/**
 * One phase of one neuron: the membrane takes the current `v` (in units u), saturates at the train's
 * range, then fires and subtracts over T steps.
 */
export function runPhase(current: number, p: NeuronParams): Phase {
  const clipped = above(current, p.high) || below(current, -p.low);
  let v = Math.min(p.high, Math.max(p.low, current));
  const spikes: number[] = [];
  const trace: number[] = [];
  for (let t = 0; t < p.steps; t++) {
    const k = p.steps - 1 - t;
    const m = p.levels[k]!;
    const s = above(v, m) ? 1 : below(v, m) ? -1 : 0;
    if (s !== 0) v -= s * 2 ** k;
    spikes.push(s);
    trace.push(v);
  }
  return { spikes, clipped, trace };
}
