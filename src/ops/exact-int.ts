// Exact integer arithmetic in float32 ONNX graphs, with a portable form for execution providers that lack
// Round, Sign or Mod (WebGPU): the same integers from Floor, comparisons and casts.
import type { OnnxBuilder } from '../onnx/onnx-builder.js';

/**
 * Exact integer helpers from ops every execution provider has (WebGPU lacks Round, Sign and Mod):
 * round half to even as floor plus a carry decided by exact comparisons (x − ⌊x⌋ is exact for |x| < 2^23;
 * larger inputs clip anyway), sign from two comparisons, parity from ⌊n/2⌋.
 */
function roundHalfEven(b: OnnxBuilder, x: string, scope: string): string {
  const floor = b.op('Floor', [x], {}, scope);
  const frac = b.op('Sub', [x, floor], {}, scope);
  const tie = b.op('And', [b.op('Equal', [frac, b.scalar(0.5)], {}, scope), b.op('Equal', [parity(b, floor, scope), b.scalar(1)], {}, scope)], {}, scope);
  // frac > ½ and a tie exclude each other: their sum is the carry (no Or, which WebGPU lacks).
  const up = b.op('Add', [b.op('Cast', [b.op('Greater', [frac, b.scalar(0.5)], {}, scope)], { to: 1 }, scope), b.op('Cast', [tie], { to: 1 }, scope)], {}, scope);
  return b.op('Add', [floor, up], {}, scope);
}

/** n mod 2 for integer-valued n (0 or 1; −1 never arises: callers pass n ≥ 0 or compare with 1). */
export function parity(b: OnnxBuilder, n: string, scope: string): string {
  return b.op('Sub', [n, b.op('Mul', [b.op('Floor', [b.op('Mul', [n, b.scalar(0.5)], {}, scope)], {}, scope), b.scalar(2)], {}, scope)], {}, scope);
}

function sign(b: OnnxBuilder, x: string, scope: string): string {
  const positive = b.op('Cast', [b.op('Greater', [x, b.scalar(0)], {}, scope)], { to: 1 }, scope);
  const negative = b.op('Cast', [b.op('Less', [x, b.scalar(0)], {}, scope)], { to: 1 }, scope);
  return b.op('Sub', [positive, negative], {}, scope);
}

/** round(x), half to even: ONNX Round, or its portable form. */
export function exactRound(b: OnnxBuilder, x: string, portable: boolean, scope: string): string {
  return portable ? roundHalfEven(b, x, scope) : b.op('Round', [x], {}, scope);
}

/** sign(x): ONNX Sign, or its portable form. */
export function exactSign(b: OnnxBuilder, x: string, portable: boolean, scope: string): string {
  return portable ? sign(b, x, scope) : b.op('Sign', [x], {}, scope);
}
