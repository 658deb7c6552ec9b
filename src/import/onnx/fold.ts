// Constant folding of the shape arithmetic exporters emit (Constant, Shape/Gather/Unsqueeze/Concat chains, casts, scalar math).
import type { Const } from '../../ops/lift.js';
import type { AttrValue, OnnxGraph, OnnxNode } from './read.js';

/** Folding stops at tensors this large: shape arithmetic is tiny; weights are not recomputed. */
const MAX_FOLD_ELEMENTS = 1 << 16;

export interface Folded {
  /** Every value known before running: initializers and folded node outputs. */
  readonly consts: ReadonlyMap<string, Const>;
  /** Nodes whose outputs were all computed here; they need no lifting. */
  readonly folded: ReadonlySet<OnnxNode>;
}

type Kernel = (ins: readonly Const[], node: OnnxNode) => Const | null;

const numel = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
const ints = (c: Const): number[] => [...c.data];
const intConst = (values: readonly number[], dims: readonly number[] = [values.length]): Const => ({ kind: 'int', dims, data: Float64Array.from(values) });
const attrInts = (n: OnnxNode, k: string): number[] | null => { const v = n.attrs.get(k); return Array.isArray(v) ? [...(v as number[])] : null; };
const attrNum = (n: OnnxNode, k: string, d: number): number => { const v = n.attrs.get(k); return typeof v === 'number' ? v : d; };

/** Numpy broadcasting of two constants under `f`; float results are rounded to float32 as ONNX Runtime would. */
function broadcast(a: Const, b: Const, f: (x: number, y: number) => number, kind?: Const['kind']): Const {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: readonly number[]) => [...Array(rank - d.length).fill(1), ...d] as number[];
  const da = pad(a.dims), db = pad(b.dims);
  const dims = da.map((x, i) => Math.max(x, db[i]!));
  const outKind = kind ?? (a.kind === 'float' || b.kind === 'float' ? 'float' : a.kind);
  const out = outKind === 'float' ? new Float32Array(numel(dims)) : new Float64Array(numel(dims));
  const idx = (d: number[], flat: number): number => {
    let off = 0, stride = 1, rest = flat;
    const coords = dims.map(() => 0);
    for (let i = rank - 1; i >= 0; i--) { coords[i] = rest % dims[i]!; rest = Math.floor(rest / dims[i]!); }
    for (let i = rank - 1; i >= 0; i--) { off += (d[i] === 1 ? 0 : coords[i]!) * stride; stride *= d[i]!; }
    return off;
  };
  for (let i = 0; i < out.length; i++) {
    const r = f(a.data[idx(da, i)]!, b.data[idx(db, i)]!);
    out[i] = outKind === 'int' ? Math.trunc(r) : r;
  }
  return { kind: outKind, dims, data: out };
}

function unary(a: Const, f: (x: number) => number): Const {
  return { kind: a.kind, dims: a.dims, data: a.kind === 'float' ? Float32Array.from(a.data, f) : Float64Array.from(a.data, f) };
}

const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

const KERNELS: Record<string, Kernel> = {
  Identity: ([a]) => a!,
  Cast: ([a], n) => { const to = attrNum(n, 'to', 1); const kind = to === 1 || to === 10 || to === 11 || to === 16 ? 'float' : to === 9 ? 'bool' : 'int'; return { kind, dims: a!.dims, data: kind === 'float' ? Float32Array.from(a!.data) : Float64Array.from(a!.data, (x) => (kind === 'bool' ? Number(x !== 0) : Math.trunc(x))) }; },
  Unsqueeze: ([a, axes], n) => {
    const ax = axes ? ints(axes) : attrInts(n, 'axes') ?? [];
    const dims = [...a!.dims];
    const rank = dims.length + ax.length;
    for (const x of ax.map((v) => normAxis(v, rank)).sort((p, q) => p - q)) dims.splice(x, 0, 1);
    return { ...a!, dims };
  },
  Squeeze: ([a, axes], n) => {
    const ax = (axes ? ints(axes) : attrInts(n, 'axes') ?? a!.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((v) => normAxis(v, a!.dims.length));
    return { ...a!, dims: a!.dims.filter((_, i) => !ax.includes(i)) };
  },
  Concat: (ins, n) => {
    if (ins.some((c) => c.dims.length !== 1)) return null; // shape vectors only
    const kind = ins[0]!.kind;
    const all = ins.flatMap((c) => [...c.data]);
    return kind === 'float' ? { kind, dims: [all.length], data: Float32Array.from(all) } : intConst(all);
  },
  Gather: ([data, index], n) => {
    if (attrNum(n, 'axis', 0) !== 0 || data!.dims.length !== 1) return null;
    const len = data!.dims[0]!;
    const picked = [...index!.data].map((i) => data!.data[i < 0 ? i + len : i]!);
    return { kind: data!.kind, dims: index!.dims, data: data!.kind === 'float' ? Float32Array.from(picked) : Float64Array.from(picked) };
  },
  Reshape: ([a, shape]) => {
    const want = ints(shape!);
    const known = want.map((d, i) => (d === 0 ? a!.dims[i]! : d));
    const rest = numel(a!.dims) / numel(known.filter((d) => d !== -1));
    return { ...a!, dims: known.map((d) => (d === -1 ? rest : d)) };
  },
  Slice: ([a, starts, ends, axes, steps]) => {
    if (a!.dims.length !== 1) return null;
    const len = a!.dims[0]!;
    const s0 = ints(starts!)[0]!, e0 = ints(ends!)[0]!, st = steps ? ints(steps)[0]! : 1;
    if ((axes && ints(axes)[0] !== 0 && ints(axes)[0] !== -1) || st === 0) return null;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + len : v, lo), hi);
    const out: number[] = [];
    if (st > 0) for (let i = clamp(s0, 0, len); i < clamp(e0, 0, len); i += st) out.push(a!.data[i]!);
    else for (let i = clamp(s0, -1, len - 1); i > clamp(e0, -1, len - 1); i += st) out.push(a!.data[i]!);
    return { kind: a!.kind, dims: [out.length], data: a!.kind === 'float' ? Float32Array.from(out) : Float64Array.from(out) };
  },
  Shape: ([a], n) => { const d = a!.dims; const s = normAxis(attrNum(n, 'start', 0), d.length); const e = n.attrs.has('end') ? normAxis(attrNum(n, 'end', d.length), d.length) : d.length; return intConst(d.slice(s, e)); },
  ConstantOfShape: ([shape], n) => {
    const dims = ints(shape!);
    const v = n.attrs.get('value') as Const | undefined;
    const kind = v?.kind ?? 'float';
    const fill = v?.data[0] ?? 0;
    return { kind, dims, data: kind === 'float' ? new Float32Array(numel(dims)).fill(fill) : new Float64Array(numel(dims)).fill(fill) };
  },
  Range: ([start, limit, delta]) => {
    const s = start!.data[0]!, l = limit!.data[0]!, d = delta!.data[0]!;
    const count = Math.max(Math.ceil((l - s) / d), 0);
    const values = Array.from({ length: count }, (_, i) => s + i * d);
    return start!.kind === 'float' ? { kind: 'float', dims: [count], data: Float32Array.from(values) } : intConst(values);
  },
  Add: ([a, b]) => broadcast(a!, b!, (x, y) => x + y),
  Sub: ([a, b]) => broadcast(a!, b!, (x, y) => x - y),
  Mul: ([a, b]) => broadcast(a!, b!, (x, y) => x * y),
  Div: ([a, b]) => broadcast(a!, b!, (x, y) => (a!.kind === 'int' && b!.kind === 'int' ? Math.trunc(x / y) : x / y)),
  Pow: ([a, b]) => broadcast(a!, b!, (x, y) => x ** y, a!.kind),
  Equal: ([a, b]) => broadcast(a!, b!, (x, y) => Number(x === y), 'bool'),
  Where: ([c, a, b]) => broadcast(broadcast(c!, a!, (x, y) => (x ? y : NaN), a!.kind), broadcast(c!, b!, (x, y) => (x ? NaN : y), b!.kind), (x, y) => (Number.isNaN(x) ? y : x), a!.kind),
  Neg: ([a]) => unary(a!, (x) => -x),
  Sqrt: ([a]) => unary(a!, Math.sqrt),
  Reciprocal: ([a]) => unary(a!, (x) => 1 / x),
};

/** Values known before any input is seen: initializers, Constant nodes, and everything computed from them by KERNELS. */
export function foldConstants(graph: OnnxGraph): Folded {
  const consts = new Map(graph.initializers);
  const folded = new Set<OnnxNode>();
  for (const node of graph.nodes) {
    const out = evaluate(node, consts);
    if (out === null) continue;
    consts.set(node.outputs[0]!, out);
    folded.add(node);
  }
  return { consts, folded };
}

function evaluate(node: OnnxNode, consts: ReadonlyMap<string, Const>): Const | null {
  if (node.domain !== '' || node.outputs.length !== 1) return null;
  if (node.opType === 'Constant') return constantValue(node.attrs);
  // CastLike(float constant, activation): activations are float, so the cast changes nothing.
  if (node.opType === 'CastLike') { const c = consts.get(node.inputs[0] ?? ''); return c?.kind === 'float' ? c : null; }
  const kernel = KERNELS[node.opType];
  if (!kernel) return null;
  const ins = node.inputs.map((i) => (i === '' ? undefined : consts.get(i)));
  // Optional trailing inputs may be absent; every present one must be known.
  if (node.inputs.some((i, k) => i !== '' && ins[k] === undefined)) return null;
  if (ins.some((c) => c && numel(c.dims) > MAX_FOLD_ELEMENTS)) return null;
  const out = kernel(ins.map((c) => c!) as Const[], node);
  return out && numel(out.dims) <= MAX_FOLD_ELEMENTS ? out : null;
}

function constantValue(attrs: ReadonlyMap<string, AttrValue>): Const | null {
  const v = attrs.get('value');
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as Const;
  const f = attrs.get('value_float'); if (typeof f === 'number') return { kind: 'float', dims: [], data: Float32Array.of(f) };
  const i = attrs.get('value_int'); if (typeof i === 'number') return intConst([i], []);
  const fs = attrs.get('value_floats'); if (Array.isArray(fs)) return { kind: 'float', dims: [fs.length], data: Float32Array.from(fs as number[]) };
  const is = attrs.get('value_ints'); if (Array.isArray(is)) return intConst(is as number[]);
  return null;
}
