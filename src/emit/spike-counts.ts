// The spike-counts form: per-channel sums of a site's spike planes, computed in the graph so only counts leave it.
import type { OnnxBuilder } from '../onnx/onnx-builder.js';

/**
 * Rows of a `spikecounts/<site>` output ([rows, D], float32), each a per-channel sum over the window:
 * Σ|v| of the planes, Σ max(v, 0), the non-zero entries, the entries with |v| > 1, Σ(v − ⌊v⌋)
 * (must be 0: spike values are integers), then from the saturation tensor the trains with a clipped
 * step and the clipped steps. Every sum is of integers below 2^24, so float32 holds it exactly.
 */
export const SPIKE_COUNT_ROWS = ['spikes', 'positive', 'events', 'nonBinary', 'nonInteger', 'trainsClipped', 'stepsClipped'] as const;
export type SpikeCountRow = (typeof SPIKE_COUNT_ROWS)[number];

/** Output name of a site's counts. */
export const spikeCountOutput = (site: string): string => `spikecounts/${site}`;

/**
 * Emits the counts of one site: `planes` is its spike tensor [T, B, S, D], `saturation` its clipped
 * steps per train [B, S, D] (absent: zero rows). Returns the [rows, D] tensor.
 */
export function emitSpikeCounts(b: OnnxBuilder, planes: string, saturation: string | undefined, scope: string): string {
  const perChannel = (x: string, axes: readonly number[]) => b.op('Unsqueeze', [b.op('ReduceSum', [x, b.ints(axes)], { keepdims: 0 }, scope), b.ints([0])], {}, scope);
  const overPlanes = (x: string) => perChannel(x, [0, 1, 2]);
  const abs = b.op('Abs', [planes], {}, scope);
  const spikes = overPlanes(abs);
  const events = overPlanes(b.op('Min', [abs, b.scalar(1)], {}, scope));
  // On integers (the last row checks it, and the report refuses a window where it fails) three identities
  // each save a pass over the planes: max(v, 0) = (v + |v|)/2, [|v| > 1] = min(|v|, 2) − min(|v|, 1), and
  // v − ⌊v⌋ ≥ 0 is 0 exactly on integers (no Abs; Floor is cheaper than Round here).
  const rows = [
    spikes,
    b.op('Mul', [b.op('Add', [overPlanes(planes), spikes], {}, scope), b.scalar(0.5)], {}, scope),
    events,
    b.op('Sub', [overPlanes(b.op('Min', [abs, b.scalar(2)], {}, scope)), events], {}, scope),
    overPlanes(b.op('Sub', [planes, b.op('Floor', [planes], {}, scope)], {}, scope)),
  ];
  if (saturation) {
    rows.push(perChannel(b.op('Cast', [b.op('Greater', [saturation, b.scalar(0)], {}, scope)], { to: 1 }, scope), [0, 1]));
    rows.push(perChannel(saturation, [0, 1]));
  } else {
    const zero = b.op('Mul', [rows[0]!, b.scalar(0)], {}, scope);
    rows.push(zero, zero);
  }
  return b.op('Concat', rows, { axis: 0 }, scope);
}
