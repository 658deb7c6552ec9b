// Rank-generic ONNX building blocks shared by the op lowerings (heads, time axis, TD differences).
import type { OnnxBuilder } from '../onnx/onnx-builder.js';

/** [..lead, S, heads·hd] → [..lead, heads, S, hd]. */
export function splitHeads(b: OnnxBuilder, x: string, lead: number, heads: number, headDim: number): string {
  const shaped = b.op('Reshape', [x, b.ints([...Array<number>(lead + 1).fill(0), heads, headDim])]);
  return b.op('Transpose', [shaped], { perm: swapLast3(lead) });
}

/** [..lead, heads, S, hd] → [..lead, S, heads·hd]. */
export function mergeHeads(b: OnnxBuilder, x: string, lead: number, width: number): string {
  const t = b.op('Transpose', [x], { perm: swapLast3(lead) });
  return b.op('Reshape', [t, b.ints([...Array<number>(lead + 1).fill(0), width])]);
}

function swapLast3(lead: number): number[] {
  const perm = Array.from({ length: lead }, (_, i) => i);
  return [...perm, lead + 1, lead, lead + 2];
}

/** Grouped-query attention: [..lead, kvHeads, L, hd] → [..lead, kvHeads·group, L, hd]. */
export function repeatKv(b: OnnxBuilder, x: string, lead: number, group: number, heads: number, headDim: number): string {
  if (group === 1) return x;
  const unsq = b.op('Unsqueeze', [x, b.ints([lead + 1])]);
  const expandShape = [...Array<number>(lead + 1).fill(1), group, 1, 1];
  const expanded = b.op('Expand', [unsq, b.ints(expandShape)]);
  return b.op('Reshape', [expanded, b.ints([...Array<number>(lead).fill(0), heads, -1, headDim])]);
}

/** [T, 1, 1, ...] holding 1..T, to broadcast over a timed value of the given rank. */
export function stepIndex(b: OnnxBuilder, timesteps: number, rank: number): string {
  return b.constant({ dtype: 'float32', dims: [timesteps, ...Array<number>(rank - 1).fill(1)], values: Array.from({ length: timesteps }, (_, t) => t + 1) });
}

/** Running mean over the time axis: m_t = (x_1 + … + x_t) / t. */
export function runningMean(b: OnnxBuilder, x: string, timesteps: number, rank: number): string {
  const sum = b.op('CumSum', [x, b.constant({ dtype: 'int64', dims: [], values: [0] })]);
  return b.op('Div', [sum, stepIndex(b, timesteps, rank)]);
}

/**
 * The temporal difference of f over running means (docs/design.md §2, mean convention):
 * y_t = t·f(m_t) − (t−1)·f(m_{t−1}), so that (y_1 + … + y_T)/T = f(m_T) exactly.
 */
export function temporalDifference(b: OnnxBuilder, fOfMean: string, timesteps: number, rank: number): string {
  const scaled = b.op('Mul', [fOfMean, stepIndex(b, timesteps, rank)]);
  if (timesteps === 1) return scaled;
  const head = b.op('Slice', [scaled, b.ints([0]), b.ints([timesteps - 1]), b.ints([0])]);
  const pads = [1, ...Array<number>(rank - 1).fill(0), 0, ...Array<number>(rank - 1).fill(0)];
  const shifted = b.op('Pad', [head, b.ints(pads)]);
  return b.op('Sub', [scaled, shifted]);
}

/** The value of a timed tensor at its last step (for T-aggregated K/V: docs/design.md §2). */
export function lastStep(b: OnnxBuilder, x: string, timesteps: number): string {
  return b.op('Gather', [x, b.constant({ dtype: 'int64', dims: [], values: [timesteps - 1] })], { axis: 0 });
}
