// Shapes of the values an OnnxBuilder emits, inferred node by node as the graph is built, so the model can
// declare every intermediate value's shape with the graph inputs' named dims (batch, seq, …).
//
// Why: onnxruntime's memory planner reuses a freed buffer only for a value of the same named shape, and at
// every allocation scans every buffer it could not reuse. Its own shape inference names no dim it cannot
// compute from constants (a sequence dim after a Reshape by [0, heads, −1, 0] becomes a fresh unnamed one),
// so on a graph where that happens early nearly no buffer is reused and opening the model is quadratic in
// its nodes: SmolLM2-135M-shaped's closed form (7 900 nodes) opened in 11 s, 1.2 s with every shape declared.
//
// The rules below are deliberately partial: a value whose shape they cannot derive exactly (an op not listed,
// an unknown input, a dim that would be a product of names) is left undeclared, and onnxruntime infers it as
// before. A declared shape must be right: test/onnx/shapes.test.ts runs the emitted forms with every declared
// value exposed and compares each with the shape onnxruntime actually produced.
import type { Dim } from '../ir/types.js';

/** A dim: a size, a name shared with the graph inputs, or null (not known here). */
export type InferredDim = Dim | null;

export interface ValueShape {
  /** ONNX TensorProto.DataType. */
  readonly elem: number;
  readonly dims: readonly InferredDim[];
  /** The elements of a small 1-D or scalar integer tensor, where known (constants, Shape and what is built from it). */
  readonly values?: readonly InferredDim[];
}

export const ELEM = { float: 1, uint8: 2, int8: 3, int16: 5, int32: 6, int64: 7, bool: 9 } as const;

type Attrs = Readonly<Record<string, unknown>>;
/** An input's shape: undefined where not known, null where the input is absent (an optional input left out). */
type In = ValueShape | undefined;
type Input = ValueShape | undefined | null;

const SAME: ReadonlySet<string> = new Set(['Abs', 'Neg', 'Cos', 'Sin', 'Floor', 'Ceil', 'Round', 'Sign', 'Relu', 'Sqrt', 'Sigmoid', 'Tanh', 'Erf', 'Exp', 'Log', 'Reciprocal', 'Identity', 'Softmax', 'LogSoftmax', 'CumSum', 'Clip', 'Not', 'LayerNormalization']);
const ARITHMETIC: ReadonlySet<string> = new Set(['Add', 'Sub', 'Mul', 'Div', 'Min', 'Max', 'Pow', 'Mod']);
const COMPARISON: ReadonlySet<string> = new Set(['Equal', 'Greater', 'Less', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor']);
/** Past any real dim: a Slice end meaning "to the end". */
const TO_END = 2 ** 31 - 1;

/** The shapes of a node's `count` outputs (undefined where not derivable). */
export function inferShapes(op: string, given: readonly Input[], attrs: Attrs, count: number): In[] {
  const first = (shape: In): In[] => [shape, ...Array.from({ length: count - 1 }, () => undefined)];
  if (op === 'Slice') return first(given[0] ? slice(given[0], given.slice(1)) : undefined);
  if (given.includes(null)) return first(undefined);
  const inputs = given as readonly In[];
  const x = inputs[0];
  if (SAME.has(op)) return first(x && { elem: x.elem, dims: x.dims });
  if (op === 'Cast') return first(x && typeof attrs['to'] === 'number' ? { elem: attrs['to'], dims: x.dims } : undefined);
  if (op === 'DequantizeLinear') return first(x && { elem: ELEM.float, dims: x.dims });
  if (ARITHMETIC.has(op)) return first(x && broadcastOf(inputs, x.elem));
  if (COMPARISON.has(op)) return first(broadcastOf(inputs, ELEM.bool));
  if (op === 'Where') return first(inputs[1] && broadcastOf(inputs, inputs[1].elem));
  if (op === 'MatMul' || op === 'MatMulInteger') return first(matmul(x, inputs[1], op === 'MatMul' ? x?.elem : ELEM.int32));
  if (op === 'Gemm') return first(gemm(x, inputs[1], attrs));
  if (op === 'Transpose') return first(x && transpose(x, attrs['perm']));
  if (op === 'Unsqueeze') return first(x && unsqueeze(x, numbers(inputs[1])));
  if (op === 'Squeeze') return first(x && squeeze(x, numbers(inputs[1])));
  if (op === 'Concat') return first(concat(inputs, attrs['axis']));
  if (op === 'Split') return split(x, inputs[1], attrs['axis'], count);
  if (op === 'Reshape') return first(x && reshape(x, inputs[1], attrs['allowzero']));
  if (op === 'Shape') return first(x && shapeOf(x, attrs));
  if (op === 'Gather') return first(gather(x, inputs[1], attrs['axis']));
  if (op === 'ReduceSum') return first(x && reduce(x, numbers(inputs[1]), attrs['keepdims']));
  if (op === 'ReduceMean' || op === 'ReduceMax' || op === 'ReduceMin') return first(x && reduce(x, integers(attrs['axes']), attrs['keepdims']));
  if (op === 'Expand') return first(x && inputs[1]?.values ? { elem: x.elem, dims: broadcast([x.dims, inputs[1].values])! } : undefined);
  if (op === 'Range') return first(x && { elem: x.elem, dims: [null] });
  return first(undefined);
}

/** Every dim known (a size or a name): what a model may declare. */
export function isComplete(shape: ValueShape): shape is ValueShape & { readonly dims: readonly Dim[] } {
  return shape.dims.every((d) => d !== null);
}

function numbers(shape: In): number[] | undefined {
  return shape?.values && shape.values.every((v): v is number => typeof v === 'number') ? [...shape.values] : undefined;
}

/** Multidirectional (numpy) broadcasting; a dim two operands name differently is not known. */
function broadcast(shapes: readonly (readonly InferredDim[])[]): InferredDim[] | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: InferredDim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: InferredDim = 1;
    for (const s of shapes) {
      const x = s[s.length - rank + i];
      if (x === undefined || x === 1) continue;
      if (d === 1) d = x;
      else if (x === null || d === null || x !== d) d = null;
    }
    out.push(d);
  }
  return out;
}

function broadcastOf(inputs: readonly In[], elem: number): In {
  if (inputs.length === 0 || inputs.some((s) => s === undefined)) return undefined;
  const dims = broadcast(inputs.map((s) => s!.dims));
  return dims && { elem, dims };
}

function matmul(a: In, b: In, elem: number | undefined): In {
  if (!a || !b || elem === undefined || a.dims.length < 2 || b.dims.length < 2) return undefined;
  const batch = broadcast([a.dims.slice(0, -2), b.dims.slice(0, -2)]);
  return batch && { elem, dims: [...batch, a.dims[a.dims.length - 2]!, b.dims[b.dims.length - 1]!] };
}

/** An ints attribute's values, or undefined where the attribute is absent or not a list of integers. */
function integers(attr: unknown): number[] | undefined {
  return Array.isArray(attr) && attr.every((v): v is number => Number.isInteger(v)) ? [...attr] : undefined;
}

function gemm(a: In, b: In, attrs: Attrs): In {
  if (!a || !b || a.dims.length !== 2 || b.dims.length !== 2) return undefined;
  return { elem: a.elem, dims: [a.dims[attrs['transA'] === 1 ? 1 : 0]!, b.dims[attrs['transB'] === 1 ? 0 : 1]!] };
}

function transpose(x: ValueShape, perm: unknown): In {
  const p = integers(perm) ?? x.dims.map((_, i) => x.dims.length - 1 - i);
  return p.length === x.dims.length ? { elem: x.elem, dims: p.map((i) => x.dims[i]!) } : undefined;
}

function normalized(axes: readonly number[], rank: number): number[] | undefined {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  return out.every((a) => a >= 0 && a < rank) && new Set(out).size === out.length ? out : undefined;
}

function unsqueeze(x: ValueShape, axes: number[] | undefined): In {
  const rank = x.dims.length + (axes?.length ?? 0);
  const at = axes && normalized(axes, rank);
  if (!at) return undefined;
  const rest = [...x.dims];
  const dims = Array.from({ length: rank }, (_, i) => (at.includes(i) ? 1 : rest.shift()!));
  return { elem: x.elem, dims, ...(x.values && x.dims.length === 0 ? { values: x.values } : {}) };
}

function squeeze(x: ValueShape, axes: number[] | undefined): In {
  const at = axes && normalized(axes, x.dims.length);
  if (!at || at.some((a) => x.dims[a] !== 1)) return undefined;
  return { elem: x.elem, dims: x.dims.filter((_, i) => !at.includes(i)), ...(x.values && x.dims.length === 1 ? { values: x.values } : {}) };
}

function concat(inputs: readonly In[], axisAttr: unknown): In {
  if (inputs.length === 0 || inputs.some((s) => s === undefined) || typeof axisAttr !== 'number') return undefined;
  const shapes = inputs as readonly ValueShape[];
  const rank = shapes[0]!.dims.length;
  const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
  if (shapes.some((s) => s.dims.length !== rank) || axis < 0 || axis >= rank) return undefined;
  const dims = shapes[0]!.dims.map((_, i) => {
    const ds = shapes.map((s) => s.dims[i]!);
    if (i === axis) return ds.every((d): d is number => typeof d === 'number') ? ds.reduce((a, d) => a + d, 0) : null;
    return ds.every((d) => d !== null && d === ds[0]) ? ds[0]! : null;
  });
  const values = rank === 1 && shapes.every((s) => s.values) ? shapes.flatMap((s) => s.values!) : undefined;
  return { elem: shapes[0]!.elem, dims, ...(values ? { values } : {}) };
}

function split(x: In, sizes: In, axisAttr: unknown, count: number): In[] {
  const none = Array.from({ length: count }, (): In => undefined);
  if (!x) return none;
  const rank = x.dims.length;
  const raw = typeof axisAttr === 'number' ? axisAttr : 0;
  const axis = raw < 0 ? raw + rank : raw;
  if (axis < 0 || axis >= rank) return none;
  const d = x.dims[axis];
  const given = numbers(sizes);
  const parts = given ?? (typeof d === 'number' && d % count === 0 ? Array.from({ length: count }, () => d / count) : undefined);
  if (!parts || parts.length !== count) return none;
  return parts.map((p) => ({ elem: x.elem, dims: x.dims.map((e, i) => (i === axis ? p : e)) }));
}

/**
 * A product of dims as a number times named dims (null when a dim is unknown). A product of names is
 * itself named by joining them, sorted, with '*' ("batch*seq": the rows of a [batch, seq, D] value
 * flattened to 2-D): one name per product, so it means the same size wherever it appears.
 */
function product(dims: readonly InferredDim[]): { coef: number; names: string[] } | null {
  let coef = 1;
  const names: string[] = [];
  for (const d of dims) {
    if (d === null) return null;
    if (typeof d === 'number') { coef *= d; continue; }
    // A name joined by '*' is a product (reshape below); a numeric part of it is a factor.
    for (const part of d.split('*')) if (/^\d+$/.test(part)) coef *= Number(part); else names.push(part);
  }
  return { coef, names: names.sort() };
}

function reshape(x: ValueShape, target: In, allowzero: unknown): In {
  const spec = target?.values;
  if (!spec) return undefined;
  const dims: InferredDim[] = spec.map((v, i) => (v === 0 && allowzero !== 1 ? x.dims[i] ?? null : v === -1 ? -1 : v));
  const free = dims.indexOf(-1);
  if (free >= 0) {
    const total = product(x.dims);
    const known = product(dims.filter((_, i) => i !== free));
    if (!total || !known || total.coef % known.coef !== 0) return { elem: x.elem, dims: dims.map((d) => (d === -1 ? null : d)) };
    const left = [...total.names];
    for (const n of known.names) {
      const at = left.indexOf(n);
      if (at < 0) return { elem: x.elem, dims: dims.map((d) => (d === -1 ? null : d)) };
      left.splice(at, 1);
    }
    const coef = total.coef / known.coef;
    dims[free] = left.length === 0 ? coef : coef === 1 ? left.join('*') : `${coef}*${left.join('*')}`;
  }
  return { elem: x.elem, dims };
}

function shapeOf(x: ValueShape, attrs: Attrs): In {
  const rank = x.dims.length;
  const clamp = (v: unknown, fallback: number) => (typeof v === 'number' ? Math.min(rank, Math.max(0, v < 0 ? v + rank : v)) : fallback);
  const values = x.dims.slice(clamp(attrs['start'], 0), clamp(attrs['end'], rank));
  return { elem: ELEM.int64, dims: [values.length], values };
}

function gather(data: In, indices: In, axisAttr: unknown): In {
  if (!data || !indices) return undefined;
  const rank = data.dims.length;
  const raw = typeof axisAttr === 'number' ? axisAttr : 0;
  const axis = raw < 0 ? raw + rank : raw;
  if (axis < 0 || axis >= rank) return undefined;
  const dims = [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)];
  const at = numbers(indices);
  const values = rank === 1 && data.values && at && indices.dims.length <= 1
    ? at.map((i) => data.values![i < 0 ? i + data.values!.length : i] ?? null)
    : undefined;
  return { elem: data.elem, dims, ...(values ? { values } : {}) };
}

/** Slice by constant starts, ends, axes and steps (`rest`; an absent axes or steps input takes its default). */
function slice(x: ValueShape, rest: readonly Input[]): In {
  if (rest.slice(0, 2).includes(null) || rest.includes(undefined)) return undefined;
  const starts = numbers(rest[0]!), ends = numbers(rest[1]!);
  if (!starts || !ends || starts.length !== ends.length) return undefined;
  const rank = x.dims.length;
  const axes = rest[2] ? numbers(rest[2]) : starts.map((_, i) => i);
  const steps = rest[3] ? numbers(rest[3]) : starts.map(() => 1);
  const at = axes && normalized(axes, rank);
  if (!at || !steps || steps.length !== starts.length) return undefined;
  const dims = [...x.dims];
  let values = x.values ? [...x.values] : undefined;
  for (const [k, axis] of at.entries()) {
    const d = dims[axis]!;
    const step = steps[k]!;
    if (typeof d !== 'number') {
      // A dim known only by name keeps it when sliced whole.
      dims[axis] = starts[k] === 0 && ends[k]! >= TO_END && step === 1 ? d : null;
      values = undefined;
      continue;
    }
    if (step !== 1) { dims[axis] = null; values = undefined; continue; }
    const clampTo = (v: number) => Math.min(d, Math.max(0, v < 0 ? v + d : v));
    const from = clampTo(starts[k]!), to = clampTo(ends[k]!);
    dims[axis] = Math.max(0, to - from);
    if (values && rank === 1) values = values.slice(from, to);
  }
  return { elem: x.elem, dims, ...(values && rank === 1 ? { values } : {}) };
}

function reduce(x: ValueShape, axes: number[] | undefined, keepdims: unknown): In {
  const at = axes && normalized(axes, x.dims.length);
  if (!at || at.length === 0) return undefined;
  const keep = keepdims !== 0;
  const dims = x.dims.flatMap((d, i) => (at.includes(i) ? (keep ? [1] : []) : [d]));
  return { elem: x.elem, dims };
}
