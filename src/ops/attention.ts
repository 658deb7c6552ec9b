// Causal multi-head attention with KV cache, RoPE and grouped-query heads; and SpikeAttention (docs/design.md §2).
// Inputs: q, k, v, attention_mask [B, L], position_ids [B, S] (always given: S is read from it), past_key, past_value [B, KVH, P, hd].
// Outputs: attention output [.., S, D], present_key, present_value [B, KVH, L, hd] (L = P + S).
import type { OnnxBuilder } from '../onnx/onnx-builder.js';
import type { Node } from '../ir/types.js';
import type { LowerCtx, OpDef } from './op.js';
import { numAttr, optNumAttr, requireNumbers } from './op.js';
import { lastStep, mergeHeads, repeatKv, runningMean, splitHeads, temporalDifference } from './onnx-util.js';

/**
 * Added to a masked key's score: finite, so a fully masked (padding) row stays finite, and so large
 * that adding it to any score below ~10^22 in size gives this value exactly. A row with a visible key
 * softmaxes its masked keys to exactly 0 and a fully masked row is uniform: what replacing the scores
 * by a constant gives, at a fraction of the cost (maskBias).
 */
const MASKED = -1e30;

const ATTENTION_OPS = ['Attention', 'SpikeAttention'] as const;

/** An attention op's attributes: query and key/value heads (GQA when fewer), head width, RoPE base (null: none). */
export interface AttentionAttrs {
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly ropeTheta: number | null;
}

/** The typed attributes of an Attention or SpikeAttention node, or null for any other op. */
export function attentionAttrs(node: Node): AttentionAttrs | null {
  if (!(ATTENTION_OPS as readonly string[]).includes(node.op)) return null;
  return { numHeads: numAttr(node, 'numHeads'), numKvHeads: numAttr(node, 'numKvHeads'), headDim: numAttr(node, 'headDim'), ropeTheta: optNumAttr(node, 'ropeTheta') };
}

/** True for the spiking attention (the attention-to-spike pass's output). */
export function isSpikeAttention(node: { readonly op: string }): boolean {
  return node.op === ATTENTION_OPS[1];
}

interface Heads { readonly heads: number; readonly kvHeads: number; readonly headDim: number; readonly ropeTheta: number | null }

function headsOf(ctx: LowerCtx): Heads {
  const a = attentionAttrs(ctx.node)!;
  return { heads: a.numHeads, kvHeads: a.numKvHeads, headDim: a.headDim, ropeTheta: a.ropeTheta };
}

/** Key positions [1, L] and query positions [S, 1] (queries are the last S of the L keys). */
function positions(ctx: LowerCtx): { keys: string; queries: string } {
  const b = ctx.b;
  const build = () => {
    const one = b.constant({ dtype: 'int64', dims: [], values: [1] });
    const L = b.op('Gather', [b.op('Shape', [ctx.input(3)]), one], { axis: 0 });
    const S = b.op('Gather', [b.op('Shape', [ctx.input(4)]), one], { axis: 0 });
    const keys = b.op('Range', [b.constant({ dtype: 'int64', dims: [], values: [0] }), L, one]);
    const queries = b.op('Range', [b.op('Sub', [L, S]), L, one]);
    return `${b.op('Unsqueeze', [keys, b.ints([0])])}|${b.op('Unsqueeze', [queries, b.ints([1])])}`;
  };
  const [keys, queries] = ctx.shared('attention/positions', build).split('|') as [string, string];
  return { keys, queries };
}

/**
 * [B, 1, S, L] float: 0 where key i is visible to query j (i ≤ P + j, causal, and attention_mask[b, i] = 1),
 * MASKED elsewhere; built once per forward and added to every layer's scores.
 */
function maskBias(ctx: LowerCtx): string {
  return ctx.shared('attention/mask-bias', () => {
    const { keys, queries } = positions(ctx);
    const causal = ctx.b.op('LessOrEqual', [keys, queries]);
    return asBias(ctx.b, ctx.b.op('And', [causal, keyMask(ctx)]));
  });
}

/** attention_mask as [B, 1, 1, L] bool. */
function keyMask(ctx: LowerCtx): string {
  return ctx.b.op('Unsqueeze', [ctx.b.op('Cast', [ctx.input(3)], { to: 9 }), ctx.b.ints([1, 2])]);
}

function asBias(b: OnnxBuilder, allowed: string): string {
  return b.op('Where', [allowed, b.scalar(0), b.scalar(MASKED)]);
}

/** [S, L] float: 1 where key i is query j's own position (i = P + j). Used by SpikeAttention. */
function ownKey(ctx: LowerCtx): string {
  return ctx.shared('attention/own-key', () => {
    const { keys, queries } = positions(ctx);
    return ctx.b.op('Cast', [ctx.b.op('Equal', [keys, queries])], { to: 1 });
  });
}

/** cos and sin tables [B, 1, S, hd] for HF's rotate_half RoPE (Su et al. 2021). */
function ropeTables(ctx: LowerCtx, h: Heads): { cos: string; sin: string } {
  const b = ctx.b;
  const build = (fn: 'Cos' | 'Sin') => ctx.shared(`attention/rope-${fn}`, () => {
    const half = h.headDim / 2;
    const invFreq = Array.from({ length: half }, (_, i) => 1 / Math.pow(h.ropeTheta!, (2 * i) / h.headDim));
    const pos = b.op('Unsqueeze', [b.op('Cast', [ctx.input(4)], { to: 1 }), b.ints([-1])]);
    const freqs = b.op('Mul', [pos, b.constant({ dtype: 'float32', dims: [half], values: invFreq })]);
    const emb = b.op('Concat', [freqs, freqs], { axis: -1 });
    return b.op('Unsqueeze', [b.op(fn, [emb]), b.ints([1])]);
  });
  return { cos: build('Cos'), sin: build('Sin') };
}

function applyRope(ctx: LowerCtx, x: string, h: Heads): string {
  if (h.ropeTheta === null) return x;
  const b = ctx.b;
  const { cos, sin } = ropeTables(ctx, h);
  const half = h.headDim / 2;
  const x1 = b.op('Slice', [x, b.ints([0]), b.ints([half]), b.ints([-1])]);
  const x2 = b.op('Slice', [x, b.ints([half]), b.ints([h.headDim]), b.ints([-1])]);
  const rotated = b.op('Concat', [b.op('Neg', [x2]), x1], { axis: -1 });
  return b.op('Add', [b.op('Mul', [x, cos]), b.op('Mul', [rotated, sin])]);
}

function maskedSoftmax(b: OnnxBuilder, scores: string, bias: string, headDim: number): string {
  const scaled = b.op('Mul', [scores, b.scalar(1 / Math.sqrt(headDim))]);
  // An Add broadcast over heads, not a Where: onnxruntime's CPU Where with a broadcast condition took
  // three times an Add's time on [1, 9, 1 024, 1 024] scores, the largest share of a calibration window.
  return b.op('Softmax', [b.op('Add', [scaled, bias])], { axis: -1 });
}

/**
 * A batched MatMul whose rows do not depend on how many rows there are: onnxruntime's CPU GEMM
 * reduces a single-row product (M = 1: one query, a decode step) in another order than two or more
 * rows (measured; with M ≥ 2 every row is bit-identical), so one zero query row is appended and dropped.
 */
function rowStableMatMul(b: OnnxBuilder, a: string, m: string): string {
  const zero = b.op('Mul', [b.op('Slice', [a, b.ints([0]), b.ints([1]), b.ints([-2])]), b.scalar(0)]);
  const product = b.op('MatMul', [b.op('Concat', [a, zero], { axis: -2 }), m]);
  return b.op('Slice', [product, b.ints([0]), b.ints([-1]), b.ints([-2])]);
}

/** The weighted code's attention: the ANN's, once per token on integrated values. */
function lowerAttentionClosed(ctx: LowerCtx): { outputs: string[]; timed: boolean[] } {
  return { outputs: lowerAttentionAnn(ctx), timed: [false, false, false] };
}

function lowerAttentionAnn(ctx: LowerCtx): string[] {
  if (ctx.sampler === true) return lowerAttentionSampler(ctx);
  const b = ctx.b;
  const matmul = ctx.multiRow === true ? (b: OnnxBuilder, a: string, m: string) => b.op('MatMul', [a, m]) : rowStableMatMul;
  const h = headsOf(ctx);
  const group = h.heads / h.kvHeads;
  const q = applyRope(ctx, splitHeads(b, ctx.input(0), 1, h.heads, h.headDim), h);
  const k = applyRope(ctx, splitHeads(b, ctx.input(1), 1, h.kvHeads, h.headDim), h);
  const v = splitHeads(b, ctx.input(2), 1, h.kvHeads, h.headDim);
  const presentK = b.op('Concat', [ctx.input(5), k], { axis: 2 });
  const presentV = b.op('Concat', [ctx.input(6), v], { axis: 2 });
  // Grouped-query attention without repeating K/V: the `group` query heads that share a KV head are stacked
  // as rows of one product with that head's keys, so the per-step Transpose moves kvHeads heads of the cache
  // and no Expand copies it group times. Each row's sums are those of the per-head product (rows do not
  // depend on how many there are: rowStableMatMul), so the values are the repeated-K/V ones, bit for bit.
  const keysT = b.op('Transpose', [presentK], { perm: [0, 1, 3, 2] });
  const byKvHead = (x: string) => (group === 1 ? x : b.op('Reshape', [x, b.ints([0, h.kvHeads, -1, 0])]));
  const byHead = (x: string) => (group === 1 ? x : b.op('Reshape', [x, b.ints([0, h.heads, -1, 0])]));
  const probs = maskedSoftmax(b, byHead(matmul(b, byKvHead(q), keysT)), maskBias(ctx), h.headDim);
  const out = asQueries(b, matmul(b, byKvHead(probs), presentV), q);
  return [mergeHeads(b, out, 1, h.heads * h.headDim), presentK, presentV];
}

/**
 * The calibration sampler's attention (one new token per row): past keys arrive transposed, [B, KVH, hd,
 * slots], values as [B, KVH, slots, hd], in buffers the caller writes one slot per step; the mask
 * [B, slots + 1] marks the filled slots and the new token (last), and only the new token's K/V
 * [B, KVH, 1, hd] go out. Nothing here copies the cache: growing present outputs cost three copies of
 * every row's cache per step (Concat, the output, the keys' Transpose). The scores of the
 * cache and of the new key are computed apart and joined, so a step's sums are not those of the stored
 * forms' attention in the last bits: the sampler only draws text, it is not a form a bundle runs.
 */
function lowerAttentionSampler(ctx: LowerCtx): string[] {
  const b = ctx.b;
  const h = headsOf(ctx);
  const group = h.heads / h.kvHeads;
  const q = applyRope(ctx, splitHeads(b, ctx.input(0), 1, h.heads, h.headDim), h);
  const k = applyRope(ctx, splitHeads(b, ctx.input(1), 1, h.kvHeads, h.headDim), h);
  const v = splitHeads(b, ctx.input(2), 1, h.kvHeads, h.headDim);
  const byKvHead = (x: string) => (group === 1 ? x : b.op('Reshape', [x, b.ints([0, h.kvHeads, -1, 0])]));
  const byHead = (x: string) => (group === 1 ? x : b.op('Reshape', [x, b.ints([0, h.heads, -1, 0])]));
  const qs = byKvHead(q);
  const scores = b.op('Concat', [b.op('MatMul', [qs, ctx.input(5)]), b.op('MatMul', [qs, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })])], { axis: -1 });
  const bias = ctx.shared('attention/sampler-mask-bias', () => asBias(b, keyMask(ctx)));
  const probs = byKvHead(maskedSoftmax(b, byHead(scores), bias, h.headDim));
  const onCache = b.op('MatMul', [b.op('Slice', [probs, b.ints([0]), b.ints([-1]), b.ints([-1])]), ctx.input(6)]);
  const onNew = b.op('Mul', [b.op('Slice', [probs, b.ints([-1]), b.ints([Number.MAX_SAFE_INTEGER]), b.ints([-1])]), v]);
  return [mergeHeads(b, asQueries(b, b.op('Add', [onCache, onNew]), q), 1, h.heads * h.headDim), k, v];
}

/**
 * The value product as [B, heads, S, hd], shaped by the queries' own Shape. The product's sequence dim
 * is one the shape inference cannot name (a grouped product's group·S rows regrouped by a constant
 * [0, heads, −1, 0], or a row-stable product's S + 1 rows less one), and without a name it would reach
 * every value of the residual stream and stop onnxruntime's planner reusing their buffers
 * (onnx/shapes.ts). The same values either way: Reshape only relabels the dims.
 */
function asQueries(b: OnnxBuilder, product: string, q: string): string {
  return b.op('Reshape', [product, b.op('Shape', [q])]);
}

/**
 * SpikeAttention over T steps. Token j at step t attends to the final (T-aggregated) K/V of every
 * other visible token and to its own running-mean K/V at step t; the attention result is emitted as a
 * temporal difference, so its mean over T equals attention on the final means (docs/design.md §2). The cache keeps
 * the T-aggregated K/V, which makes incremental decoding equal to a full recompute.
 */
function lowerSpikeAttention(ctx: LowerCtx): { outputs: string[]; timed: boolean[] } {
  const b = ctx.b;
  const h = headsOf(ctx);
  const T = ctx.timesteps;
  const group = h.heads / h.kvHeads;
  const mean = (i: number) => runningMean(b, ctx.timedInput(i), T, 4);
  const q = applyRope(ctx, splitHeads(b, mean(0), 2, h.heads, h.headDim), h);
  const kSteps = applyRope(ctx, splitHeads(b, mean(1), 2, h.kvHeads, h.headDim), h);
  const vSteps = splitHeads(b, mean(2), 2, h.kvHeads, h.headDim);
  const kFinal = lastStep(b, kSteps, T);
  const vFinal = lastStep(b, vSteps, T);
  const presentK = b.op('Concat', [ctx.input(5), kFinal], { axis: 2 });
  const presentV = b.op('Concat', [ctx.input(6), vFinal], { axis: 2 });
  const own = ownKey(ctx);
  // Scores against final keys, then the own-key column replaced by the step-t own score.
  const keysT = b.op('Transpose', [repeatKv(b, presentK, 1, group, h.heads, h.headDim)], { perm: [0, 1, 3, 2] });
  const scores = rowStableMatMul(b, q, keysT);
  const ownScore = b.op('ReduceSum', [b.op('Mul', [q, repeatKv(b, kSteps, 2, group, h.heads, h.headDim)]), b.ints([-1])], { keepdims: 1 });
  const mixed = b.op('Add', [scores, b.op('Mul', [own, b.op('Sub', [ownScore, scores])])]);
  const probs = maskedSoftmax(b, mixed, maskBias(ctx), h.headDim);
  // Values: final V for every key, corrected on the own column by (v_t − v_final).
  const out = rowStableMatMul(b, probs, repeatKv(b, presentV, 1, group, h.heads, h.headDim));
  const ownProb = b.op('ReduceSum', [b.op('Mul', [probs, own]), b.ints([-1])], { keepdims: 1 });
  const vDelta = b.op('Sub', [repeatKv(b, vSteps, 2, group, h.heads, h.headDim), repeatKv(b, vFinal, 1, group, h.heads, h.headDim)]);
  const corrected = b.op('Add', [out, b.op('Mul', [ownProb, vDelta])]);
  const merged = mergeHeads(b, corrected, 2, h.heads * h.headDim);
  return { outputs: [temporalDifference(b, merged, T, 4), presentK, presentV], timed: [true, false, false] };
}

const checkAttention: OpDef['check'] = (node) => {
  const problems = requireNumbers(node, ['numHeads', 'numKvHeads', 'headDim']);
  if (problems.length === 0 && numAttr(node, 'numHeads') % numAttr(node, 'numKvHeads') !== 0) problems.push('numHeads must be a multiple of numKvHeads');
  return problems;
};

export const attention: OpDef = {
  name: ATTENTION_OPS[0],
  doc: 'causal self-attention with KV cache (RoPE and GQA when configured)',
  numInputs: 7,
  numOutputs: 3,
  weights: [],
  check: checkAttention,
  lowerAnn: lowerAttentionAnn,
  snn: { kind: 'unsupported', why: 'Attention has no spiking form by itself: run the attention-to-spike pass (SpikeAttention)' },
};

export const spikeAttention: OpDef = {
  name: ATTENTION_OPS[1],
  doc: 'attention as a TD operator over running means; cache holds T-aggregated K/V',
  numInputs: 7,
  numOutputs: 3,
  weights: [],
  check: checkAttention,
  lowerAnn: lowerAttentionAnn,
  snn: { kind: 'custom', lower: lowerSpikeAttention },
  closed: lowerAttentionClosed,
};
