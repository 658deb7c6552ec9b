// Per-channel threshold statistics: max or an upper percentile, kept exactly with a streaming top-k.
import { SnnError } from '../errors/index.js';

export const THRESHOLD_MODES = ['max', 'p99', 'p99.9', 'p99.99'] as const;
export type ThresholdMode = (typeof THRESHOLD_MODES)[number];

export function parseThreshold(value: string): ThresholdMode {
  if ((THRESHOLD_MODES as readonly string[]).includes(value)) return value as ThresholdMode;
  throw new SnnError('OPTION_INVALID', { message: `unknown threshold mode ${JSON.stringify(value)} (valid: ${THRESHOLD_MODES.join(', ')})`, at: '--threshold' });
}

const QUANTILE: Record<ThresholdMode, number> = { max: 1, p99: 0.99, 'p99.9': 0.999, 'p99.99': 0.9999 };

/**
 * Keeps, per channel, the k largest observed values, enough for the nearest-rank percentile
 * q over `expected` samples: rank ⌈q·N⌉, i.e. the (N − ⌈q·N⌉ + 1)-th largest.
 */
export class ChannelTopK {
  /** Values kept per channel. */
  readonly k: number;
  private readonly top: Float32Array;
  private seen = 0;

  constructor(readonly channels: number, readonly mode: ThresholdMode, expected: number) {
    this.k = Math.max(1, expected - Math.ceil(QUANTILE[mode] * expected) + 1);
    this.top = new Float32Array(channels * this.k).fill(-Infinity);
  }

  /**
   * Adds rows of `values` ([rows, channels]), transformed by `abs` (SignedIF) or as they are (IF).
   * `seen`: the rows they stand for, when they are already each channel's k largest of more rows
   * (already transformed): the kept values are the same as if every row had been added.
   */
  add(values: Float32Array, abs: boolean, seen = values.length / this.channels): void {
    const C = this.channels;
    const k = this.k;
    for (let r = 0; r < values.length / C; r++) {
      for (let c = 0; c < C; c++) {
        const raw = values[r * C + c]!;
        const v = abs ? Math.abs(raw) : raw;
        const base = c * k;
        // Each channel's slots stay sorted ascending; slot 0 is the smallest kept value.
        if (v <= this.top[base]!) continue;
        let i = 0;
        while (i + 1 < k && this.top[base + i + 1]! < v) { this.top[base + i] = this.top[base + i + 1]!; i++; }
        this.top[base + i] = v;
      }
    }
    this.seen += seen;
  }

  /** θ per channel: the statistic, floored at `floor` so a silent channel never divides by zero. */
  thresholds(floor = 1e-6): Float32Array {
    const C = this.channels;
    const k = this.k;
    const rank = Math.max(1, this.seen - Math.ceil(QUANTILE[this.mode] * this.seen) + 1);
    const slot = k - Math.min(rank, k);
    const out = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      const v = this.top[c * k + slot]!;
      out[c] = Number.isFinite(v) && v > floor ? v : floor;
    }
    return out;
  }

  get samples(): number {
    return this.seen;
  }
}
