// Integer synapses for the weighted code (docs/design.md §5: spikes decided by exact arithmetic): a Linear fed by a
// neuron multiplies the neuron's integer count by integer weights, an exact sum in any order.
//
// y_j = Σ_k W_kj·u_k·q_k + b_j with u_k = θ_k/M_T the neuron's unit. The folded weights W_kj·u_k are
// quantized per output channel: W_kj·u_k ≈ s_j·w_kj, w integer with |w| ≤ 2^(bits−1) − 1, so
// y_j = s_j·Σ_k w_kj·q_k + b_j. Every product and partial sum of Σ_k w_kj·q_k is an integer; while
// max_j Σ_k |w_kj|·M_T < 2^24 they are all exact in float32, so the MatMul gives the same bits whatever
// its shape, blocking or summation order (rows alone or batched, whole or chunked).
import { roundHalfUp } from '../util/round.js';

/** Partial sums below this stay exact float32 integers. */
export const EXACT_FLOAT_INTEGER = 2 ** 24;

/**
 * Integer weights are stored as 8-bit planes of 6 bits each, w = Σ_p 2^(6p)·plane_p: one plane (w itself,
 * |w| ≤ 63) at ≤ 7 bits; else two, low ∈ [0, 63] and high = ⌊w/64⌋ ∈ [−32, 31]. Every plane entry is within
 * ±63, so an 8-bit GEMM never saturates on them (ops/linear.ts), and the planes take the bytes INT16 would.
 */
export const PLANE_BITS = 6;

export interface IntegerSynapse {
  /** Integer weights [in, out] (row-major) as 8-bit planes: w = planes[0] + 2^6·planes[1] (see PLANE_BITS). */
  readonly planes: readonly Int8Array[];
  /** Per output channel scale s_j. */
  readonly scale: Float32Array;
  readonly bits: number;
  /** max_j Σ_k |w_kj| · M_T: the largest accumulator magnitude, certified < 2^24. */
  readonly bound: number;
}

export interface SynapseInput {
  /** The float weight as stored: [in, out], or [out, in] when transposed. */
  readonly weight: Float32Array;
  readonly transposed: boolean;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** The neuron's unit u_k per input channel. */
  readonly unit: Float32Array;
  /** The largest |count| the neuron emits (M_T). */
  readonly maxCount: number;
}

/** Most bits tried; fewer are used when the exactness bound needs it. */
export const MAX_SYNAPSE_BITS = 12;
/** Below this the weights would be too coarse: the Linear keeps float weights (recorded, not exact). */
export const MIN_SYNAPSE_BITS = 6;

/**
 * A Linear's folded weights W·u as [in, out] float32 (whatever the stored layout), each output's peak
 * |W·u| and its Σ_k |W·u|. They do not depend on the bit width or the count's split, so a plan folds once.
 */
interface Folded {
  readonly folded: Float32Array;
  readonly peak: Float32Array;
  readonly absSum: Float64Array;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/** Tile edge for reading a transposed weight: both the read and the write stay within a few cache lines. */
const TILE = 64;

function fold(s: Omit<SynapseInput, 'maxCount'>): Folded {
  const { inFeatures: I, outFeatures: O, weight, unit } = s;
  const folded = new Float32Array(I * O);
  const peak = new Float32Array(O);
  const absSum = new Float64Array(O);
  // Each output's peak and Σ|W·u| are taken in the same pass as the fold: this runs once per weight of every Linear.
  if (!s.transposed) {
    for (let k = 0; k < I; k++) {
      const u = unit[k]!;
      for (let j = 0, at = k * O; j < O; j++, at++) {
        const v = Math.fround(weight[at]! * u);
        folded[at] = v;
        const a = Math.abs(v);
        if (a > peak[j]!) peak[j] = a;
        absSum[j]! += a;
      }
    }
  } else {
    for (let j0 = 0; j0 < O; j0 += TILE) {
      const jEnd = Math.min(j0 + TILE, O);
      for (let k0 = 0; k0 < I; k0 += TILE) {
        const kEnd = Math.min(k0 + TILE, I);
        // Rows of the output written whole (contiguous), columns of the stored weight read within the tile.
        for (let k = k0; k < kEnd; k++) {
          const u = unit[k]!;
          for (let j = j0, at = k * O + j0, from = j0 * I + k; j < jEnd; j++, at++, from += I) {
            const v = Math.fround(weight[from]! * u);
            folded[at] = v;
            const a = Math.abs(v);
            if (a > peak[j]!) peak[j] = a;
            absSum[j]! += a;
          }
        }
      }
    }
  }
  return { folded, peak, absSum, inFeatures: I, outFeatures: O };
}

function scalesAt(f: Folded, bits: number): Float32Array {
  const top = 2 ** (bits - 1) - 1;
  return Float32Array.from(f.peak, (p) => (p > 0 ? p / top : 1));
}

/** The integer weights at `bits` (as planes, when `into` is given) and each output's Σ_k |w_kj|, exactly. */
function roundAt(f: Folded, scale: Float32Array, into?: readonly Int8Array[]): Float64Array {
  const { folded, inFeatures: I, outFeatures: O } = f;
  const rowSum = new Float64Array(O);
  // One loop per layout, each monomorphic: this runs once per weight of every Linear.
  const [low, high] = into ?? [];
  const mask = 2 ** PLANE_BITS - 1;
  for (let k = 0; k < I; k++) {
    const at0 = k * O;
    if (high) {
      for (let j = 0; j < O; j++) {
        const w = roundHalfUp(folded[at0 + j]! / scale[j]!);
        low![at0 + j] = w & mask;
        high[at0 + j] = w >> PLANE_BITS;
        rowSum[j]! += Math.abs(w);
      }
    } else if (low) {
      for (let j = 0; j < O; j++) {
        const w = roundHalfUp(folded[at0 + j]! / scale[j]!);
        low[at0 + j] = w;
        rowSum[j]! += Math.abs(w);
      }
    } else {
      for (let j = 0; j < O; j++) rowSum[j]! += Math.abs(roundHalfUp(folded[at0 + j]! / scale[j]!));
    }
  }
  return rowSum;
}

/** The integer weights of a synapse, rebuilt from its planes. */
export function synapseWeights(s: Pick<IntegerSynapse, 'planes'>): Int16Array {
  const [low, high] = s.planes;
  return Int16Array.from(low!, (v, at) => v + (high ? high[at]! * 2 ** PLANE_BITS : 0));
}

const maxOf = (xs: Float64Array): number => xs.reduce((a, b) => Math.max(a, b), 0); // no spread: a 150k-row head overflows the call stack

/**
 * Whether `bits` keeps every accumulator exact for counts up to `maxCount`: max_j Σ_k |w_kj| · maxCount
 * < 2^24. Each |w| = |round(x)| lies within ½ of |x|, so Σ_k |x_kj| = Σ_k |W·u|_kj / s_j brackets the
 * sum within I/2 (plus a rounding margin); only a bracket that straddles the limit is rounded out.
 */
function exactAt(f: Folded, bits: number, maxCount: number): boolean {
  const scale = scalesAt(f, bits);
  const slack = f.inFeatures / 2 + 1;
  let upper = 0, lower = 0;
  for (let j = 0; j < f.outFeatures; j++) {
    const estimate = f.absSum[j]! / scale[j]!;
    const margin = slack + estimate * 1e-9;
    upper = Math.max(upper, estimate + margin);
    lower = Math.max(lower, estimate - margin);
  }
  if (upper * maxCount < EXACT_FLOAT_INTEGER) return true;
  if (lower * maxCount >= EXACT_FLOAT_INTEGER) return false;
  return maxOf(roundAt(f, scale)) * maxCount < EXACT_FLOAT_INTEGER;
}

/** The most bits (≤ 12, ≥ 6) whose accumulators stay exact, or null. */
function bestBits(f: Folded, maxCount: number): number | null {
  for (let bits = MAX_SYNAPSE_BITS; bits >= MIN_SYNAPSE_BITS; bits--) if (exactAt(f, bits, maxCount)) return bits;
  return null;
}

function quantizeAt(f: Folded, bits: number, maxCount: number): IntegerSynapse {
  const scale = scalesAt(f, bits);
  const planes = Array.from({ length: bits <= PLANE_BITS + 1 ? 1 : 2 }, () => new Int8Array(f.folded.length));
  const bound = maxOf(roundAt(f, scale, planes)) * maxCount;
  return { planes, scale, bits, bound };
}

/** Quantizes a Linear's folded weights to the most bits (≤ 12) whose accumulators stay exact; null when even 6 bits cannot. */
export function quantizeSynapse(s: SynapseInput): IntegerSynapse | null {
  const f = fold(s);
  const bits = bestBits(f, s.maxCount);
  return bits === null ? null : quantizeAt(f, bits, s.maxCount);
}

export interface SynapsePlan {
  readonly synapse: IntegerSynapse;
  /** The count is fed as `groups` integer parts q = Σ_g 2^(chunkBits·g)·q_g, each |q_g| < 2^chunkBits. */
  readonly groups: number;
  readonly chunkBits: number;
}

/** Weight bits at which a synapse is taken as is; below, the count is split into more parts. */
const GOOD_SYNAPSE_BITS = 10;

/**
 * Larger T means larger counts (M_T) and so, under the exactness bound, coarser weights. Splitting the
 * count into G parts of ⌈log2(M_T + 1)/G⌉ bits keeps each part small: the MatMul stays exact per part,
 * and the parts recombine by an elementwise weighted sum (shape-independent). The fewest parts that
 * give ≥ 10-bit weights are used (at most 4); null when none can be certified.
 */
export function planSynapse(s: Omit<SynapseInput, 'maxCount'>, maxCount: number): SynapsePlan | null {
  const bitsNeeded = Math.ceil(Math.log2(maxCount + 1));
  const f = fold(s);
  let best: { bits: number; groups: number; chunkBits: number; maxCount: number } | null = null;
  for (let groups = 1; groups <= 4; groups++) {
    const chunkBits = Math.ceil(bitsNeeded / groups);
    const partMax = groups === 1 ? maxCount : 2 ** chunkBits - 1;
    const bits = bestBits(f, partMax);
    if (bits !== null && (!best || bits > best.bits)) best = { bits, groups, chunkBits, maxCount: partMax };
    if (bits !== null && bits >= GOOD_SYNAPSE_BITS) break;
  }
  return best && { synapse: quantizeAt(f, best.bits, best.maxCount), groups: best.groups, chunkBits: best.chunkBits };
}
