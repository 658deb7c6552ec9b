// The ONNX attention subgraph that lifts to Attention (attention.ts): heads split, RoPE, past/present K/V, GQA expansion, scaled
// scores, causal mask (Where or additive), Softmax, the value product and the heads merge. Anchored at the Softmax.
import { constAndOther, intsAttr, lifted, miss, nearConstant, producedBy, type LiftResult, type LiftRule, type LiftView, type OnnxNodeLike } from './lift.js';

/** Ops that only move or repeat K/V between the cache and the score product (GQA: Unsqueeze/Expand/Reshape). */
const MOVES = ['Reshape', 'Expand', 'Unsqueeze', 'Transpose', 'Squeeze', 'Identity'];
const COMPARISONS = ['Trilu', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual'];

const samePerm = (n: OnnxNodeLike, perm: readonly number[]): boolean => {
  const p = intsAttr(n, 'perm');
  return p !== undefined && p.length === perm.length && p.every((v, i) => v === perm[i]);
};

/** Collects what a match covers: main-path nodes, and side inputs that must be plumbing (masks, shapes, tables). */
class Cover {
  readonly nodes = new Set<OnnxNodeLike>();
  readonly side: string[] = [];
  add(...nodes: OnnxNodeLike[]): void { for (const n of nodes) this.nodes.add(n); }
  /** Side inputs of `n` other than `main` must be plumbing. */
  sides(n: OnnxNodeLike, main: string): void { for (const i of n.inputs) if (i !== main && i !== '') this.side.push(i); }
}

/** Follows K or V back through moves to the present Concat(past, new) on axis 2. */
function toPresent(view: LiftView, value: string, cover: Cover): { past: string; fresh: string; present: string; swapped: boolean; scale: number } | string {
  let v = value;
  let swapped = false;
  let scale = 1;
  for (let hops = 0; hops < 8; hops++) {
    const p = view.producer(v);
    if (!p) return `"${v}" is not computed from a past/present K/V Concat`;
    if (p.opType === 'Concat') {
      const axis = p.attrs.get('axis');
      if (p.inputs.length !== 2 || (axis !== 2 && axis !== -2)) return `the K/V cache Concat "${p.name}" does not join two tensors on the sequence axis (2)`;
      if (!view.isInput(p.inputs[0]!)) return `the K/V cache Concat "${p.name}" does not start from a past_key_values input`;
      if (!view.isOutput(v)) return `the K/V cache "${v}" is not a present output of the graph`;
      cover.add(p);
      return { past: p.inputs[0]!, fresh: p.inputs[1]!, present: v, swapped, scale };
    }
    // torch's SDPA export scales Q and Kᵀ by √scale each.
    const ca = (p.opType === 'Mul' || p.opType === 'Div') ? constAndOther(view, p) : undefined;
    if (ca && ca.c.data.length === 1) {
      scale *= p.opType === 'Div' ? 1 / ca.c.data[0]! : ca.c.data[0]!;
      cover.add(p);
      v = ca.other;
      continue;
    }
    if (!MOVES.includes(p.opType)) return `K/V passes through ${p.opType} "${p.name}" on its way to the scores`;
    if (p.opType === 'Transpose') {
      if (samePerm(p, [0, 1, 3, 2])) swapped = !swapped;
      else return `K/V Transpose "${p.name}" with perm [${(intsAttr(p, 'perm') ?? []).join(', ')}]`;
    }
    cover.add(p);
    cover.sides(p, p.inputs[0]!);
    v = p.inputs[0]!;
  }
  return `no K/V cache Concat found behind "${value}"`;
}

/** Transpose(Reshape(x, [B, S, H, hd]), [0, 2, 1, 3]): the heads split. Returns x and H, hd when the shape says them. */
function splitHeads(view: LiftView, value: string, cover: Cover): { x: string; heads?: number; headDim?: number } | string {
  const t = producedBy(view, value, 'Transpose');
  if (!t || !samePerm(t, [0, 2, 1, 3])) return `"${value}" is not Transpose(…, [0, 2, 1, 3]) of the heads split`;
  const r = producedBy(view, t.inputs[0], 'Reshape');
  if (!r) return `the heads split "${t.name}" does not transpose a Reshape`;
  cover.add(t, r);
  cover.sides(r, r.inputs[0]!);
  const shape = shapeEntries(view, r.inputs[1]!);
  return { x: r.inputs[0]!, ...(shape.length === 4 && shape[2]! > 0 ? { heads: shape[2]! } : {}), ...(shape.length === 4 && shape[3]! > 0 ? { headDim: shape[3]! } : {}) };
}

/** The entries of a shape vector that are constant (-1 for the ones known only at run time). */
function shapeEntries(view: LiftView, value: string): number[] {
  const c = view.constant(value);
  if (c) return [...c.data];
  const concat = producedBy(view, value, 'Concat');
  if (!concat) return [];
  return concat.inputs.flatMap((i) => { const k = view.constant(i); return k ? [...k.data] : [-1]; });
}

/** RoPE, rotate-half form: Add(Mul(x, cos), Mul(Concat(Neg(x₂), x₁), sin)). Returns x and the cos/sin sides. */
function unRope(view: LiftView, value: string, cover: Cover): { x: string; tables: string[] } | null {
  const add = producedBy(view, value, 'Add');
  if (!add) return null;
  const [m1, m2] = add.inputs.map((i) => producedBy(view, i, 'Mul'));
  if (!m1 || !m2) return null;
  for (const [direct, rotated] of [[m1, m2], [m2, m1]] as const) {
    for (const rotIdx of [0, 1]) {
      const concat = producedBy(view, rotated.inputs[rotIdx], 'Concat');
      const neg = concat ? producedBy(view, concat.inputs[0], 'Neg') : undefined;
      const hi = neg ? producedBy(view, neg.inputs[0], 'Slice') : undefined;
      const lo = concat ? producedBy(view, concat.inputs[1], 'Slice') : undefined;
      if (!concat || !hi || !lo || hi.inputs[0] !== lo.inputs[0]) continue;
      const x = hi.inputs[0]!;
      const xIdx = direct.inputs.indexOf(x);
      if (xIdx < 0) continue;
      cover.add(add, direct, rotated, concat, neg!, hi, lo);
      cover.sides(hi, x); cover.sides(lo, x);
      const tables = [direct.inputs[1 - xIdx]!, rotated.inputs[1 - rotIdx]!];
      cover.side.push(...tables);
      return { x, tables };
    }
  }
  return null;
}

/**
 * RoPE base from the tables' constants: inv_freq (1, θ^(−2/hd), …) or a cos cache [P, hd] (row 1 holds cos(inv_freq)).
 * From inv_freq, a least-squares fit of ln d_k = −(2k/hd)·ln θ over its normal-range entries: an entry's
 * rounding (fp16: 2⁻¹¹) moves θ by about 1.5× that, where d_1 alone moved it hd/2 times as much.
 */
function ropeTheta(view: LiftView, tables: readonly string[], headDim: number): number | null {
  for (const t of tables) {
    for (const n of view.plumbing(t) ?? []) {
      for (const i of n.inputs) {
        const c = view.constant(i);
        if (!c || c.kind !== 'float') continue;
        const d = c.data;
        if (d.length === headDim / 2 && d[0] === 1 && d[1]! < 1 && d[1]! > 0) return fitTheta(d, headDim);
        const dims = c.dims.filter((x) => x !== 1);
        if (dims.length === 2 && dims[1] === headDim && dims[0]! > 1 && d[headDim]! < 1) return Math.exp(-(headDim / 2) * Math.log(Math.acos(d[headDim + 1]!)));
      }
    }
  }
  return null;
}

function fitTheta(d: Float32Array | Float64Array, headDim: number): number {
  let num = 0, den = 0;
  for (let k = 1; k < d.length; k++) if (d[k]! >= 2 ** -14) { num += k * Math.log(d[k]!); den += k * k; }
  return Math.exp(-(headDim / 2) * (num / den));
}

/** Walks the scores back from the Softmax: additive masks, Where masks, the scale, to MatMul(Q, Kᵀ). */
function scoresOf(view: LiftView, softmax: OnnxNodeLike, cover: Cover): { qk: OnnxNodeLike; scale: number } | string {
  let v = softmax.inputs[0]!;
  let scale = 1;
  for (let hops = 0; hops < 8; hops++) {
    const p = view.producer(v);
    if (!p) return 'the Softmax input is not computed from Q and K';
    if (p.opType === 'MatMul') { cover.add(p); return { qk: p, scale }; }
    const acts = p.inputs.filter((i) => i !== '' && view.isActivation(i));
    if (acts.length !== 1) return `${p.opType} "${p.name}" before the Softmax mixes ${acts.length} activations`;
    const next = acts[0]!;
    if (p.opType === 'Div' || p.opType === 'Mul') {
      const ca = constAndOther(view, p);
      if (!ca || ca.c.data.length !== 1) return `${p.opType} "${p.name}" scales the scores by a non-constant`;
      scale *= p.opType === 'Div' ? 1 / ca.c.data[0]! : ca.c.data[0]!;
    } else if (p.opType !== 'Add' && p.opType !== 'Where' && p.opType !== 'Sub') {
      return `${p.opType} "${p.name}" between the scores and the Softmax`;
    }
    cover.add(p);
    cover.sides(p, next);
    v = next;
  }
  return 'too many nodes between the scores and the Softmax';
}

function matchAttention(softmax: OnnxNodeLike, view: LiftView): LiftResult {
  const axis = softmax.attrs.get('axis');
  if (axis !== undefined && axis !== -1 && axis !== 3) return miss(`Softmax over axis ${String(axis)}, not the key axis`);
  const cover = new Cover();
  cover.add(softmax);
  const scores = scoresOf(view, softmax, cover);
  if (typeof scores === 'string') return miss(scores);
  // Q: an optional constant scale, RoPE, heads split.
  let qv = scores.qk.inputs[0]!;
  let scale = scores.scale;
  const qs = producedBy(view, qv, 'Mul', 'Div');
  const qsc = qs ? constAndOther(view, qs) : undefined;
  if (qs && qsc && qsc.c.data.length === 1) { scale *= qs.opType === 'Div' ? 1 / qsc.c.data[0]! : qsc.c.data[0]!; cover.add(qs); qv = qsc.other; }
  const qRope = unRope(view, qv, cover);
  const q = splitHeads(view, qRope?.x ?? qv, cover);
  if (typeof q === 'string') return miss(`Q: ${q}`);
  // OPT scales the projected Q by head_dim^-0.5 before splitting the heads.
  let qx = q.x;
  const qPre = producedBy(view, qx, 'Mul', 'Div');
  const qPreC = qPre ? constAndOther(view, qPre) : undefined;
  if (qPre && qPreC && qPreC.c.data.length === 1 && view.consumers(qx).length === 1) {
    scale *= qPre.opType === 'Div' ? 1 / qPreC.c.data[0]! : qPreC.c.data[0]!;
    cover.add(qPre);
    qx = qPreC.other;
  }
  // K: cache and transpose, then RoPE and heads split of the new keys.
  const kc = toPresent(view, scores.qk.inputs[1]!, cover);
  if (typeof kc === 'string') return miss(`K: ${kc}`);
  if (!kc.swapped) return miss('K reaches MatMul(Q, K) without a transpose of its last two axes');
  scale *= kc.scale;
  const kRope = unRope(view, kc.fresh, cover);
  const k = splitHeads(view, kRope?.x ?? kc.fresh, cover);
  if (typeof k === 'string') return miss(`K: ${k}`);
  if (Boolean(qRope) !== Boolean(kRope)) return miss('RoPE on one of Q and K only');
  // V and the output.
  const pv = view.consumers(softmax.outputs[0]!).find((n) => n.opType === 'MatMul' && n.inputs[0] === softmax.outputs[0]);
  if (!pv || view.consumers(softmax.outputs[0]!).length !== 1) return miss('the Softmax output does not feed one MatMul with V');
  cover.add(pv);
  const vc = toPresent(view, pv.inputs[1]!, cover);
  if (typeof vc === 'string') return miss(`V: ${vc}`);
  if (vc.scale !== 1) return miss('V is scaled on its way to the value product');
  const v = splitHeads(view, vc.fresh, cover);
  if (typeof v === 'string') return miss(`V: ${v}`);
  const merged = mergeHeads(view, pv.outputs[0]!, cover);
  if (typeof merged === 'string') return miss(merged);
  const headDim = q.headDim ?? k.headDim;
  if (!headDim || !q.heads || !k.heads) return miss('the heads split does not state the number of heads and head size as constants');
  // Up to three stored constants multiply into the scale (√scale on Q and on K, one on the scores).
  if (!nearConstant(view, scale * Math.sqrt(headDim), 1, 1e-5, 3)) return miss(`scores scaled by ${scale}, not 1/√${headDim}`);
  const plumbing = cover.side.map((s) => ({ s, nodes: view.plumbing(s) }));
  const bad = plumbing.find((p) => p.nodes === null);
  if (bad) return miss(`side input "${bad.s}" of the attention carries activations`);
  const sideNodes = plumbing.flatMap((p) => p.nodes ?? []);
  const constants = [...cover.side, ...sideNodes.flatMap((n) => n.inputs)];
  const causal = sideNodes.some((n) => COMPARISONS.includes(n.opType)) || constants.some((s) => isCausalConstant(view, s));
  if (!causal) return miss('no causal mask (Trilu, a position comparison or a lower-triangular constant) reaches the scores: an encoder?');
  const theta = qRope ? ropeTheta(view, qRope.tables, headDim) : null;
  if (qRope && theta === null) return miss('RoPE tables whose base θ cannot be read (no inv_freq vector or cos cache constant)');
  return lifted({
    op: 'Attention',
    inputs: [qx, k.x, v.x, 'attention_mask', 'position_ids', kc.past, vc.past],
    outputs: [merged.out, kc.present, vc.present],
    // θ read from stored constants is as exact as their type: checked against the config within this.
    attrs: { numHeads: q.heads, numKvHeads: k.heads, headDim, ropeTheta: theta, ropeThetaTolerance: Math.max(1e-3, 4 * view.rounding) },
    weights: {},
    covers: [...cover.nodes, ...sideNodes],
  });
}

/** Reshape(Transpose(x, [0, 2, 1, 3])): the heads merge after the value product. */
function mergeHeads(view: LiftView, value: string, cover: Cover): { out: string } | string {
  const users = view.consumers(value);
  const t = users[0];
  if (users.length !== 1 || !t || t.opType !== 'Transpose' || !samePerm(t, [0, 2, 1, 3])) return 'the value product is not followed by Transpose(…, [0, 2, 1, 3])';
  const r = view.consumers(t.outputs[0]!)[0];
  if (!r || r.opType !== 'Reshape') return 'the heads are not merged by a Reshape';
  cover.add(t, r);
  cover.sides(r, t.outputs[0]!);
  return { out: r.outputs[0]! };
}

/** A square constant that is causal: a 0/1 lower-triangular keep mask (HF's `bias` buffer) or an additive mask (0 below, ≤ −10⁴ above: fp16 converters clamp to −10⁴). */
function isCausalConstant(view: LiftView, value: string): boolean {
  const c = view.constant(value);
  if (!c || c.dims.length < 2) return false;
  const n = c.dims[c.dims.length - 1]!;
  if (n < 2 || c.dims[c.dims.length - 2] !== n) return false;
  const [above, below, diag] = [c.data[1]!, c.data[n]!, c.data[0]!];
  return (above === 0 && below !== 0 && diag !== 0) || (above <= -1e4 && below === 0 && diag === 0);
}

export const ATTENTION_LIFT_RULES: readonly LiftRule[] = [{ name: 'attention', anchors: ['Softmax'], match: matchAttention }];
