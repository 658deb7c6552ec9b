// The contract of ONNX lifting rules: a rule sees one anchor node and the graph around it, and returns an IR op or why it almost matched.
import type { Attrs } from '../ir/types.js';

/** A constant tensor of the ONNX graph (initializer, Constant node, or folded shape arithmetic). */
export interface Const {
  readonly kind: 'float' | 'int' | 'bool';
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array;
}

export type LiftAttr = number | string | readonly number[] | Const;

export interface OnnxNodeLike {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: ReadonlyMap<string, LiftAttr>;
}

/** What a rule may ask about the graph. */
export interface LiftView {
  /** The node producing `value`, unless it is a graph input, an initializer or folded. */
  producer(value: string): OnnxNodeLike | undefined;
  consumers(value: string): readonly OnnxNodeLike[];
  /** The value as a constant, when it is known before running. */
  constant(value: string): Const | undefined;
  /** True for values computed from the model's activations (input ids through the network, past K/V), not from shapes or masks. */
  isActivation(value: string): boolean;
  /** True for a graph output. */
  isOutput(value: string): boolean;
  /** True for a graph input. */
  isInput(value: string): boolean;
  /**
   * The nodes computing `value` from positions, masks, constants, tables and shapes only (a mask, a
   * RoPE table, a shape vector), or null when the input ids or past K/V flow into it.
   */
  plumbing(value: string): readonly OnnxNodeLike[] | null;
  /**
   * Relative rounding of the export's float constants: 2⁻²⁴ for float32, 2⁻¹¹ for an fp16 export (its
   * scale, eps and GELU coefficients are stored in half precision), 2⁻⁸ for bf16.
   */
  readonly rounding: number;
}

/** An IR op recovered from ONNX nodes; inputs and outputs are ONNX value names. */
export interface Lifted {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Attrs;
  /** Weights by role, in the layout the attrs say (Linear: [in, out] unless `transposed`). */
  readonly weights: Readonly<Record<string, Const>>;
  /** Every ONNX node this op replaces. */
  readonly covers: readonly OnnxNodeLike[];
}

/** A match, a near miss (the anchor fitted; `why` says what did not), or nothing. */
export type LiftResult = { readonly lifted: Lifted } | { readonly miss: string } | null;

export interface LiftRule {
  /** e.g. 'layernorm-decomposed'. */
  readonly name: string;
  /** ONNX op types the rule's anchor (the pattern's last node) can have. */
  readonly anchors: readonly string[];
  readonly match: (node: OnnxNodeLike, view: LiftView) => LiftResult;
}

export const miss = (why: string): LiftResult => ({ miss: why });
export const lifted = (l: Lifted): LiftResult => ({ lifted: l });

/** The single number a constant holds (a scalar or a one-element tensor), else undefined. */
export function scalarOf(view: LiftView, value: string): number | undefined {
  const c = view.constant(value);
  return c && c.data.length === 1 ? c.data[0] : undefined;
}

/** The producer of `value` if it has op type `op`. */
export function producedBy(view: LiftView, value: string | undefined, ...ops: string[]): OnnxNodeLike | undefined {
  if (value === undefined) return undefined;
  const p = view.producer(value);
  return p && ops.includes(p.opType) && p.domain === '' ? p : undefined;
}

/** Splits a binary node's inputs into (the constant one, the other), when exactly one is constant. */
export function constAndOther(view: LiftView, node: OnnxNodeLike): { c: Const; cName: string; other: string } | undefined {
  const [a, b] = node.inputs;
  if (a === undefined || b === undefined) return undefined;
  const ca = view.constant(a), cb = view.constant(b);
  if (ca && !cb) return { c: ca, cName: a, other: b };
  if (cb && !ca) return { c: cb, cName: b, other: a };
  return undefined;
}

export const near = (x: number | undefined, want: number, rel = 1e-4): boolean => x !== undefined && Math.abs(x - want) <= rel * Math.abs(want);

/** `near`, widened to the rounding of the type the graph stored its constants in (fp16 exports: 2⁻¹¹), times `roundings` for a product of constants. */
export const nearConstant = (view: LiftView, x: number | undefined, want: number, rel: number, roundings = 1): boolean => near(x, want, Math.max(rel, roundings * view.rounding));

export const intAttr = (n: OnnxNodeLike, key: string, dflt: number): number => {
  const v = n.attrs.get(key);
  return typeof v === 'number' ? v : dflt;
};

export const intsAttr = (n: OnnxNodeLike, key: string): readonly number[] | undefined => {
  const v = n.attrs.get(key);
  return Array.isArray(v) && v.every((x): x is number => typeof x === 'number') ? v : undefined;
};

/** The reduction axes of a ReduceMean (attribute before opset 18, input after). */
export function reduceAxes(view: LiftView, n: OnnxNodeLike): readonly number[] | undefined {
  const attr = intsAttr(n, 'axes');
  if (attr) return attr;
  const input = n.inputs[1];
  const c = input ? view.constant(input) : undefined;
  return c ? [...c.data] : undefined;
}
