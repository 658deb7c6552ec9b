// Conversation state, and packing rows of different lengths into session steps (padding, per-row positions and masks).
import type { ModelSpec } from '../ir/types.js';
import { DeviceKv, type KvBlock } from './device-kv.js';
import type { KvStepOutput, StepInput } from './session.js';

/**
 * What one conversation keeps between calls. The cache holds only real tokens (padding is removed
 * after every call), so its attention mask is all ones and is rebuilt per call from the lengths.
 */
export interface ConversationState {
  /** Tokens whose K/V are cached, oldest first (kept to rebuild the cache when the window slides). */
  readonly tokens: readonly number[];
  /** The position id fed with each cached token. */
  readonly positions: readonly number[];
  /**
   * Per layer K then V, each [kvHeads, tokens.length, headDim]. For a spiking model these are the
   * T-aggregated K/V of past tokens (docs/design.md §2), so a cached step equals a full recompute. On WebGPU
   * they stay on the device (DeviceKv) while the conversation runs alone.
   */
  readonly cache: readonly KvBlock[];
}

export const EMPTY_STATE: ConversationState = { tokens: [], positions: [], cache: [] };

/** One row of a step: the cached state it builds on, and the tokens it feeds on top. */
export interface RowPlan {
  readonly base: ConversationState;
  /** Tokens fed this call: re-fed history after a slide, then the new tokens. */
  readonly feed: readonly number[];
  /** How many trailing `feed` tokens are the caller's new tokens (their logits are returned). */
  readonly newCount: number;
}

/**
 * Key slots move only by multiples of this between an unpadded run and a packed one. onnxruntime's CPU
 * kernels reduce over the key axis in 8 (AVX2) or 16 (AVX-512) float lanes; a real key that keeps its
 * lane and order gets the same sum, and masked slots add exact zeros, so a packed row is bit-identical
 * to running alone (measured). It matters for spiking models: a last-bit difference can flip a spike
 * at a threshold and move a logit by far more than rounding.
 */
export const KEY_ALIGNMENT = 16;

/**
 * One session call. Row i of the call is `rows[i]` of the forward call; its cache fills key slots
 * [0, c) and its fed tokens seq slots [offsets[i], offsets[i] + s) (keys [past + offset, …)); the rest
 * is masked padding.
 */
export interface PackedStep {
  readonly input: StepInput;
  readonly rows: readonly number[];
  readonly offsets: readonly number[];
}

/** Padding slots get this token and position; they are masked, so any valid value works. */
const PAD_ID = 0n;

/** The next position of a conversation: one past its last fed position. */
export function nextPosition(state: ConversationState): number {
  const last = state.positions[state.positions.length - 1];
  return last === undefined ? 0 : last + 1;
}

const mod = (a: number, n: number): number => ((a % n) + n) % n;

interface Layout { readonly past: number; readonly seq: number; readonly offsets: number[] }

/**
 * The smallest packing of `rows` that keeps every row aligned: a fed token's key must sit at a slot
 * ≡ its index in the conversation (mod `alignment`), so the row's tokens start at seq offset
 * (c − past) mod alignment; `past` is chosen to minimize the query slots.
 */
function layout(plans: readonly RowPlan[], rows: readonly number[], alignment: number): Layout {
  const held = (r: number) => plans[r]!.base.tokens.length;
  const minPast = Math.max(...rows.map(held));
  let best: Layout | null = null;
  for (let past = minPast; past < minPast + alignment; past++) {
    const offsets = rows.map((r) => mod(held(r) - past, alignment));
    const seq = Math.max(...rows.map((r, i) => offsets[i]! + plans[r]!.feed.length));
    if (!best || seq < best.seq) best = { past, seq, offsets };
  }
  return best!;
}

/**
 * Packs rows into session calls: one call for all rows (per-row positions and masks), unless
 * alignment would more than double its query slots (decode steps of conversations whose lengths
 * differ mod `alignment`); then one call per class of length mod `alignment`, each without waste.
 */
export function packSteps(spec: ModelSpec, plans: readonly RowPlan[], alignment = KEY_ALIGNMENT): PackedStep[] {
  const all = plans.map((_, r) => r);
  const one = layout(plans, all, alignment);
  const longest = Math.max(...plans.map((p) => p.feed.length));
  if (one.seq <= 2 * longest) return [pack(spec, plans, all, one)];
  const classes = new Map<number, number[]>();
  for (const r of all) {
    const key = plans[r]!.base.tokens.length % alignment;
    classes.set(key, [...(classes.get(key) ?? []), r]);
  }
  return [...classes.values()].map((rows) => pack(spec, plans, rows, layout(plans, rows, alignment)));
}

function pack(spec: ModelSpec, plans: readonly RowPlan[], rows: readonly number[], at: Layout): PackedStep {
  const { past, seq, offsets } = at;
  const batch = rows.length;
  const total = past + seq;
  const ids = new BigInt64Array(batch * seq).fill(PAD_ID);
  const positions = new BigInt64Array(batch * seq);
  const mask = new BigInt64Array(batch * total);
  rows.forEach((r, b) => {
    const plan = plans[r]!;
    const c = plan.base.tokens.length;
    const e = offsets[b]!;
    mask.fill(1n, b * total, b * total + c);
    mask.fill(1n, b * total + past + e, b * total + past + e + plan.feed.length);
    const start = nextPosition(plan.base);
    plan.feed.forEach((id, k) => {
      ids[b * seq + e + k] = BigInt(id);
      positions[b * seq + e + k] = BigInt(start + k);
    });
  });
  const cache = past === 0 ? [] : packCache(spec, rows.map((r) => plans[r]!.base), past);
  return { input: { batch, seq, ids, mask, positions, past, cache }, rows, offsets };
}

/**
 * Per layer K then V, [batch, kvHeads, past, headDim]: each row's cache at slots [0, c), zeros after (masked).
 * Only a lone conversation's blocks may be on the device (the caller brings the others to the host first).
 */
function packCache(spec: ModelSpec, bases: readonly ConversationState[], past: number): KvBlock[] {
  const { numKvHeads: H, headDim: D } = spec;
  // One conversation filling the whole past: its arrays already have the packed layout.
  if (bases.length === 1 && bases[0]!.tokens.length === past) return [...bases[0]!.cache];
  return Array.from({ length: 2 * spec.numLayers }, (_, i) => {
    const out = new Float32Array(bases.length * H * past * D);
    bases.forEach((base, b) => {
      const c = base.tokens.length;
      if (c === 0) return;
      const src = onHost(base.cache[i]!);
      for (let h = 0; h < H; h++) out.set(src.subarray(h * c * D, (h + 1) * c * D), (b * H + h) * past * D);
    });
    return out;
  });
}

/** One row's results: its next state and the logits of its new tokens. */
export interface RowResult {
  readonly state: ConversationState;
  /** [newCount, vocab]. */
  readonly logits: Float32Array;
  /** The positions fed with the new tokens, read back from the step input. */
  readonly positionIds: number[];
}

/** Splits a call's output into its rows' results (by forward row), dropping padding from the cache. */
export function unpackStep(spec: ModelSpec, plans: readonly RowPlan[], packed: PackedStep, output: KvStepOutput): Map<number, RowResult> {
  const { input, rows, offsets } = packed;
  const V = spec.vocabSize;
  const results = new Map<number, RowResult>();
  rows.forEach((r, b) => {
    const plan = plans[r]!;
    const s = plan.feed.length;
    const e = offsets[b]!;
    const first = b * input.seq + e;
    const fedPositions = Array.from(input.positions.subarray(first, first + s), Number);
    const state: ConversationState = {
      tokens: [...plan.base.tokens, ...plan.feed],
      positions: [...plan.base.positions, ...fedPositions],
      cache: output.present.map((present) => unpackCache(spec, present, input, b, plan.base.tokens.length, e, s)),
    };
    const newFirst = (first + s - plan.newCount) * V;
    results.set(r, {
      state,
      logits: output.logits.slice(newFirst, newFirst + plan.newCount * V),
      positionIds: fedPositions.slice(s - plan.newCount),
    });
  });
  return results;
}

/** Row b of a present tensor [batch, kvHeads, past + seq, headDim], real slots only: [kvHeads, c + s, headDim]. */
function unpackCache(spec: ModelSpec, block: KvBlock, input: StepInput, b: number, c: number, e: number, s: number): KvBlock {
  const { numKvHeads: H, headDim: D } = spec;
  const { past, seq, batch } = input;
  const total = past + seq;
  if (batch === 1 && c === past && e === 0 && s === seq) return block; // no padding: already the row's layout
  const present = onHost(block);
  const out = new Float32Array(H * (c + s) * D);
  for (let h = 0; h < H; h++) {
    const row = (b * H + h) * total;
    out.set(present.subarray(row * D, (row + c) * D), h * (c + s) * D);
    out.set(present.subarray((row + past + e) * D, (row + past + e + s) * D), (h * (c + s) + c) * D);
  }
  return out;
}

/** The first `keep` tokens of a conversation (an exact prefix: later tokens never change earlier K/V). */
export function truncateState(spec: ModelSpec, state: ConversationState, keep: number): ConversationState {
  if (keep === 0) return EMPTY_STATE;
  const { numKvHeads: H, headDim: D } = spec;
  const n = state.tokens.length;
  return {
    tokens: state.tokens.slice(0, keep),
    positions: state.positions.slice(0, keep),
    cache: state.cache.map((block) => {
      if (block instanceof DeviceKv) return block.truncate(keep);
      const kv = block;
      const out = new Float32Array(H * keep * D);
      for (let h = 0; h < H; h++) out.set(kv.subarray(h * n * D, (h * n + keep) * D), h * keep * D);
      return out;
    }),
  };
}

/** A block the packing code reads: host floats (device blocks are brought over before packing). */
function onHost(block: KvBlock): Float32Array {
  if (block instanceof DeviceKv) throw new Error('internal: a device KV block reached host-side packing (bring it to the host first)');
  return block;
}
