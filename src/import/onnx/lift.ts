// Lifts an ONNX graph into IR ops with the rewrite tables in src/ops/*-lift.ts; every node left over is reported at once.
import { SnnError } from '../../errors/index.js';
import { ACTIVATION_LIFT_RULES } from '../../ops/activation-lift.js';
import { ARITH_LIFT_RULES } from '../../ops/arith-lift.js';
import { ATTENTION_LIFT_RULES } from '../../ops/attention-lift.js';
import type { Lifted, LiftRule, OnnxNodeLike } from '../../ops/lift.js';
import { LINEAR_LIFT_RULES } from '../../ops/linear-lift.js';
import { NORM_LIFT_RULES } from '../../ops/norm-lift.js';
import type { GraphView } from './view.js';

/** Every rule, in priority order for a shared anchor (larger patterns first). */
export const LIFT_RULES: readonly LiftRule[] = [
  ...ATTENTION_LIFT_RULES, // Softmax and all the head plumbing around it
  ...NORM_LIFT_RULES, // before plain Add/Mul of an activation and a constant
  ...ACTIVATION_LIFT_RULES, // Gelu/SiLU products before a plain Mul of activations
  ...LINEAR_LIFT_RULES,
  ...ARITH_LIFT_RULES,
];

export interface LiftOutcome {
  /** In the graph's topological order. */
  readonly ops: readonly Lifted[];
  /** Which rule lifted each op (for the report). */
  readonly ruleOf: ReadonlyMap<Lifted, string>;
}

/**
 * Runs the rules from the graph's outputs back (a pattern is met at its last node before its inner
 * ones), then checks that every node not folded is covered. Throws ONNX_NOT_LIFTABLE listing each
 * uncovered node: name, op, the values it feeds, and the nearest rule that almost matched.
 */
export function liftGraph(view: GraphView, rules: readonly LiftRule[] = LIFT_RULES): LiftOutcome {
  const covered = new Set<OnnxNodeLike>();
  const misses = new Map<OnnxNodeLike, string>();
  const ops: Lifted[] = [];
  const ruleOf = new Map<Lifted, string>();
  const nodes = view.graph.nodes.filter((n) => !view.folded.folded.has(n));
  for (const node of [...nodes].reverse()) {
    if (covered.has(node)) continue;
    for (const rule of rules) {
      if (!rule.anchors.includes(node.opType) || node.domain !== '') continue;
      const r = rule.match(node, view);
      if (r === null) continue;
      if ('miss' in r) { if (!misses.has(node)) misses.set(node, `${rule.name}: ${r.miss}`); continue; }
      // A pattern never swallows an op it does not know (it would be dropped silently): that node stays, and is reported.
      const stranger = r.lifted.covers.find((c) => (c as OnnxNodeLike).domain !== '' || !KNOWN_OPS.has((c as OnnxNodeLike).opType));
      if (stranger) { if (!misses.has(node)) misses.set(node, `${rule.name}: would cover "${(stranger as OnnxNodeLike).name}", an op no rule knows`); continue; }
      ops.push(r.lifted);
      ruleOf.set(r.lifted, rule.name);
      for (const c of r.lifted.covers) covered.add(c);
      break;
    }
  }
  const left = nodes.filter((n) => !covered.has(n));
  if (left.length > 0) throw notLiftable(view, left, misses);
  const order = new Map(nodes.map((n, i) => [n, i]));
  const last = (l: Lifted) => Math.max(...l.covers.map((c) => order.get(c as never) ?? -1));
  return { ops: ops.sort((a, b) => last(a) - last(b)), ruleOf };
}

/** The near miss of this node's pattern: its own, or that of an anchor up to 3 nodes downstream. */
function nearMiss(view: GraphView, n: OnnxNodeLike, misses: ReadonlyMap<OnnxNodeLike, string>, depth = 3): string | undefined {
  const own = misses.get(n);
  if (own) return depth === 3 ? own : `${own} (anchored at "${n.name}")`;
  if (depth === 0) return undefined;
  for (const o of n.outputs) for (const c of view.consumers(o)) { const m = nearMiss(view, c, misses, depth - 1); if (m) return m; }
  return undefined;
}

/** Causes first: ops no rule knows, then near misses, then activations; shape/mask plumbing stranded around them last. */
function rank(view: GraphView, n: OnnxNodeLike, misses: ReadonlyMap<OnnxNodeLike, string>): number {
  if (n.domain !== '' || !KNOWN_OPS.has(n.opType)) return 0;
  if (misses.has(n)) return 1;
  return n.outputs.some((o) => view.isActivation(o)) ? 2 : 3;
}

/** ONNX ops the rules lift or that appear inside the patterns they match (shape arithmetic, masks, RoPE). */
const KNOWN_OPS = new Set([
  ...LIFT_RULES.flatMap((r) => r.anchors),
  'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Reshape', 'Transpose', 'Slice', 'Cast', 'Constant', 'ConstantOfShape',
  'Range', 'Expand', 'Where', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Not', 'Trilu', 'Neg',
  'Sub', 'Div', 'Pow', 'Sqrt', 'Reciprocal', 'ReduceMean', 'Erf', 'Tanh', 'Sigmoid', 'Cos', 'Sin', 'Identity',
  'Add', 'Mul', 'Sum', 'MatMul', 'Gemm', 'Softmax', 'Split', 'Max', 'Min', 'Clip', 'Abs', 'Exp', 'Log', 'Floor', 'Ceil', 'Round', 'Sign', 'Mod', 'Or', 'Xor', 'Flatten', 'Tile', 'Pad', 'Gelu', 'LayerNormalization', 'ScatterND', 'Shrink', 'Relu', 'Elu', 'Selu', 'LeakyRelu', 'HardSigmoid', 'Softplus', 'Softsign', 'IsNaN', 'IsInf', 'CumSum', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2', 'ReduceSumSquare', 'ArgMax', 'TopK', 'OneHot', 'NonZero', 'GatherElements', 'GatherND', 'Einsum', 'BatchNormalization', 'InstanceNormalization', 'Dropout', 'Size', 'Mean',
]);

/** Fits on a screen: a count by op type and the first few nodes with their near misses; `--verbose` prints every node (the cause). */
function notLiftable(view: GraphView, all: readonly OnnxNodeLike[], misses: ReadonlyMap<OnnxNodeLike, string>): SnnError {
  const left = [...all].sort((a, b) => rank(view, a, misses) - rank(view, b, misses));
  const describe = (n: OnnxNodeLike): string => {
    const feeds = n.outputs.flatMap((o) => view.consumers(o).map((c) => `${c.opType} "${c.name}"`)).slice(0, 3);
    const graphOut = n.outputs.filter((o) => view.isOutput(o)).map((o) => `graph output "${o}"`);
    const domain = n.domain ? `${n.domain}::` : '';
    const unknown = rank(view, n, misses) === 0 ? ', an unknown op,' : '';
    const nearest = nearMiss(view, n, misses) ?? (unknown ? `no rule lifts ${domain}${n.opType}` : LIFT_RULES.some((r) => r.anchors.includes(n.opType)) ? 'no rule matched here' : `part of a pattern that did not match (${n.opType})`);
    return `"${n.name}" (${domain}${n.opType})${unknown} feeding ${[...feeds, ...graphOut].join(', ') || 'nothing'}; nearest: ${nearest}`;
  };
  // Op types in the order of their causes (unknown ops first, then near misses), the most frequent first within each.
  const counts = new Map<string, { n: number; rank: number }>();
  for (const n of left) {
    const k = n.domain ? `${n.domain}::${n.opType}` : n.opType;
    const c = counts.get(k);
    counts.set(k, { n: (c?.n ?? 0) + 1, rank: Math.min(c?.rank ?? 9, rank(view, n, misses)) });
  }
  const types = [...counts].sort((a, b) => a[1].rank - b[1].rank || b[1].n - a[1].n);
  const byType = types.slice(0, 8).map(([k, c]) => `${k} ×${c.n}`).join(', ') + (types.length > 8 ? `, ${types.length - 8} more op types` : '');
  const first = left.slice(0, SHOWN).map(describe);
  const more = left.length > SHOWN ? `; ${left.length - SHOWN} more with --verbose` : '';
  return new SnnError('ONNX_NOT_LIFTABLE', {
    message: `${left.length} node(s) could not be lifted (${byType}); first: ${first.join('; ')}${more}`,
    at: view.graph.path,
    cause: new Error(`every node not lifted:\n${left.map(describe).join('\n')}`),
  });
}

/** Nodes described in full in the one-line message. */
const SHOWN = 3;
