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

// Rate code (docs/design.md §2): every spike weighs one unit u = θ/levels. The membrane, measured in
// units u and shifted so that it starts at 0 (IF: v − θ/2; SignedIF: v), takes the step's current x_t/u,
// then fires: +1 while what is left of it lies above ½ and fewer than `levels` spikes were sent this step
// (SignedIF: −1 while below −½), subtracting 1 per spike. A membrane left exactly on a threshold fires
// when that spike makes an even count this step (round half to even, as IEEE and ONNX Round). A step
// at which the neuron would fire more than it may (its membrane still over the threshold after
// `levels` spikes, or an IF membrane below −½) is counted as saturated. Nothing here rounds the input:
// the spikes come from comparisons and subtractions.

export interface RateParams {
  /** Most spikes per step (k of a multi-level neuron; 1 for plain IF). */
  readonly levels: number;
  /** SignedIF fires ±1 per spike; IF only +1. */
  readonly signed: boolean;
}

export interface RateTrain {
  /** The step's spike value, per step (an integer in [−levels, levels]; [0, levels] for IF). */
  readonly spikes: number[];
  /** Steps at which the neuron saturated. */
  readonly clipped: number;
  /** The membrane after every step's spikes (for traces and tests). */
  readonly trace: number[];
}

/** Whether a membrane left at `v` after `fired` spikes of one sign this step fires once more (threshold ½). */
function firesAgain(v: number, fired: number): boolean {
  return v > 0.5 || (v === 0.5 && (fired + 1) % 2 === 0);
}

/**
 * One neuron over T steps: `currents[t]` is the step's input in units u (float32 values). The membrane
 * is kept in float32 as the graph keeps it: after each step it holds v − s_t, then adds the next current.
 */
export function runRateTrain(currents: readonly number[], p: RateParams): RateTrain {
  const spikes: number[] = [];
  const trace: number[] = [];
  let clipped = 0;
  let v = 0;
  currents.forEach((x, t) => {
    v = t === 0 ? x : Math.fround(v + x);
    let s = 0;
    // Each spike subtracts one unit; v − s is exact in float64 (|v| < 2^24, s a small integer).
    while (s < p.levels && firesAgain(v - s, s)) s += 1;
    if (s === 0 && p.signed) while (s > -p.levels && firesAgain(s - v, -s)) s -= 1;
    const left = v - s;
    // Saturated: the top of the range reached with the membrane still over a threshold, or an IF membrane below −½.
    const over = (s === p.levels && firesAgain(left, s)) || (p.signed && s === -p.levels && firesAgain(-left, -s));
    if (over || (!p.signed && firesAgain(-left, 0))) clipped += 1;
    v = Math.fround(left);
    spikes.push(s);
    trace.push(v);
  });
  return { spikes, clipped, trace };
}
