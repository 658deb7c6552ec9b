// Integer synapses for the weighted code (docs/design.md §5: spikes decided by exact arithmetic): a Linear fed by a
// neuron multiplies the neuron's integer count by integer weights, an exact sum in any order.
//
// y_j = Σ_k W_kj·u_k·q_k + b_j with u_k = θ_k/M_T the neuron's unit. The folded weights W_kj·u_k are
// quantized per output channel: W_kj·u_k ≈ s_j·w_kj, w integer with |w| ≤ 2^(bits−1) − 1, so
// y_j = s_j·Σ_k w_kj·q_k + b_j. Every product and partial sum of Σ_k w_kj·q_k is an integer; while
// max_j Σ_k |w_kj|·M_T < 2^24 they are all exact in float32, so the MatMul gives the same bits whatever
// its shape, blocking or summation order (rows alone or batched, whole or chunked).

/** Partial sums below this stay exact float32 integers. */
export const EXACT_FLOAT_INTEGER = 2 ** 24;

export interface IntegerSynapse {
  /** Integer weights [in, out] (row-major), as the smallest integer array that holds them. */
  readonly weights: Int8Array | Int16Array;
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

/** Quantizes a Linear's folded weights to the most bits (≤ 12) whose accumulators stay exact; null when even 6 bits cannot. */
export function quantizeSynapse(s: SynapseInput): IntegerSynapse | null {
  const { inFeatures: I, outFeatures: O } = s;
  const folded = new Float32Array(I * O);
  for (let k = 0; k < I; k++) {
    for (let j = 0; j < O; j++) folded[k * O + j] = (s.transposed ? s.weight[j * I + k]! : s.weight[k * O + j]!) * s.unit[k]!;
  }
  const peak = new Float32Array(O);
  for (let i = 0; i < folded.length; i++) peak[i % O] = Math.max(peak[i % O]!, Math.abs(folded[i]!));
  for (let bits = MAX_SYNAPSE_BITS; bits >= MIN_SYNAPSE_BITS; bits--) {
    const top = 2 ** (bits - 1) - 1;
    const scale = Float32Array.from(peak, (p) => (p > 0 ? p / top : 1));
    const weights = bits <= 8 ? new Int8Array(I * O) : new Int16Array(I * O);
    const rowSum = new Float64Array(O);
    for (let i = 0; i < folded.length; i++) {
      const j = i % O;
      const w = Math.round(folded[i]! / scale[j]!);
      weights[i] = w;
      rowSum[j]! += Math.abs(w);
    }
    // A loop, not Math.max(...rowSum): a spread of a 150k-row LM head (Qwen2) overflows the call stack.
    const bound = rowSum.reduce((a, b) => Math.max(a, b), 0) * s.maxCount;
    if (bound < EXACT_FLOAT_INTEGER) return { weights, scale, bits, bound };
  }
  return null;
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
  let best: SynapsePlan | null = null;
  for (let groups = 1; groups <= 4; groups++) {
    const chunkBits = Math.ceil(bitsNeeded / groups);
    const synapse = quantizeSynapse({ ...s, maxCount: groups === 1 ? maxCount : 2 ** chunkBits - 1 });
    if (synapse && (!best || synapse.bits > best.synapse.bits)) best = { synapse, groups, chunkBits };
    if (synapse && synapse.bits >= GOOD_SYNAPSE_BITS) break;
  }
  return best;
}
