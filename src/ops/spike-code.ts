// Spike codes (docs/design.md §2): rate coding, and the signed-digit weighted code whose step t weighs 2^(T−1−t) units.
//
// Weighted code (few-spike / bit-plane neurons, Stöckl & Maass 2021; signed digits as in ST-BIF):
// a neuron integrates its input over one phase, rounds it to the integer count q = round(x/u),
// |q| ≤ M_T, with u = θ/M_T, and emits q over T steps as the digits of its non-adjacent form (NAF),
// most significant first: step t carries d_t ∈ {−1, 0, 1} of weight 2^(T−1−t). The NAF is the signed
// binary form with the fewest non-zero digits (Reitwiesner 1960), so each event carries on average
// ~3 quanta where rate coding carries one. The emission is the greedy rule "fire ±1 when the
// remaining count exceeds M_k, the largest value the k lower digits can still represent, then
// subtract", which yields exactly the NAF (no two adjacent non-zero digits, unique).
import { SnnError } from '../errors/index.js';
import type { SpikeCode, Timesteps } from '../options/values.js';

export { SPIKE_CODES, parseCode, type SpikeCode } from '../options/values.js';

/**
 * Largest T a weighted code may use: counts and their digit sums stay exact float32 integers (< 2^24),
 * so the closed form and the step-by-step neuron agree bit for bit.
 */
export const MAX_WEIGHTED_TIMESTEPS = 22;

/** Checks that the code can represent T steps and `levels` per step (typed error listing the allowed values). */
export function checkCodeSupports(code: SpikeCode, timesteps: Timesteps, levels: number, site: string): void {
  if (code !== 'weighted') return;
  if (timesteps > MAX_WEIGHTED_TIMESTEPS) {
    throw new SnnError('OPTION_INVALID', { message: `the weighted code supports 1–${MAX_WEIGHTED_TIMESTEPS} timesteps (counts must stay exact float32 integers), got ${timesteps}`, at: '--timesteps', hint: `use --timesteps ≤ ${MAX_WEIGHTED_TIMESTEPS}, or --code rate for longer trains` });
  }
  if (levels !== 1) {
    throw new SnnError('OPTION_INVALID', { message: `the weighted code emits binary signed digits (levels 1), got levels ${levels} at ${site}`, at: '--levels', hint: 'drop --levels (the weighted code gets its resolution from T), or use --code rate for multi-level neurons' });
  }
}

/** Most headroom digits a weighted code may reserve above the calibrated range (each doubles the range). */
export const MAX_HEADROOM = 4;

/**
 * Headroom (docs/design.md, calibration): of the T signed digits, the top `headroom` ones lie above the
 * calibrated range. θ (the largest value calibration saw) maps to M_(T−h), the full scale of the T−h
 * lower digits, so u = θ/M_(T−h) keeps the resolution of a (T−h)-step code, while counts up to M_T,
 * about 2^h·θ, still pass: a value beyond what calibration saw is coded, not cut to θ. The top digits
 * fire only for such values (|q| ≤ M_(T−h) never sets a digit above T−h), so they cost steps, not events.
 */
export function unitCount(timesteps: number, headroom: number): number {
  return nafMax(timesteps - headroom);
}

/** Checks a headroom against T (typed error naming the valid range). */
export function checkHeadroom(code: SpikeCode, timesteps: number, headroom: number): void {
  if (!Number.isInteger(headroom) || headroom < 0 || headroom > MAX_HEADROOM) {
    throw new SnnError('OPTION_INVALID', { message: `--headroom must be an integer from 0 to ${MAX_HEADROOM} (digits above the calibrated range), got ${JSON.stringify(headroom)}`, at: '--headroom' });
  }
  if (headroom > 0 && code !== 'weighted') {
    throw new SnnError('OPTION_INVALID', { message: `--headroom ${headroom} needs the weighted code (rate coding has no high-order digits)`, at: '--headroom', hint: 'drop --headroom, or use --code weighted' });
  }
  if (headroom > 0 && timesteps - headroom < 1) {
    throw new SnnError('OPTION_INVALID', { message: `T=${timesteps} leaves no digit for the calibrated range with --headroom ${headroom}`, at: '--timesteps', hint: `use --timesteps ≥ ${headroom + 1}, or a smaller --headroom` });
  }
}

/** M_k = ⌊(2^(k+1) − 1)/3⌋: the largest count k signed NAF digits represent (M_1 = 1, M_4 = 10, M_6 = 42). */
export function nafMax(digits: number): number {
  return Math.floor((2 ** (digits + 1) - 1) / 3);
}

/** The NAF digits of an integer, most significant first, over `T` steps (|q| ≤ M_T): the greedy neuron. */
export function nafDigits(q: number, T: number): number[] {
  const digits: number[] = [];
  let rest = q;
  for (let t = 0; t < T; t++) {
    const k = T - 1 - t;
    const d = Math.abs(rest) > nafMax(k) ? Math.sign(rest) : 0;
    digits.push(d);
    rest -= d * 2 ** k;
  }
  return digits;
}

/** Number of non-zero NAF digits (events) of an integer. */
export function nafWeight(q: number): number {
  let n = Math.abs(q);
  let events = 0;
  while (n > 0) {
    if (n % 2 === 1) { events += 1; n = n % 4 === 3 ? n + 1 : n - 1; }
    n /= 2;
  }
  return events;
}
