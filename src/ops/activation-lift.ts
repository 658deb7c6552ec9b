// ONNX patterns that lift to the activations of activation.ts: Gelu (opset-20 op, erf form, tanh form), SiLU, ReLU.
import { constAndOther, lifted, miss, near, nearConstant, producedBy, scalarOf, type LiftResult, type LiftRule, type LiftView, type OnnxNodeLike } from './lift.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The factors of a product tree of Mul nodes (depth ≤ 3), with the nodes that form it. */
function factors(view: LiftView, value: string, depth = 3): { values: string[]; nodes: OnnxNodeLike[] } {
  const mul = depth > 0 ? producedBy(view, value, 'Mul') : undefined;
  if (!mul || (depth < 3 && view.consumers(value).length !== 1)) return { values: [value], nodes: [] };
  const parts = mul.inputs.map((i) => factors(view, i, depth - 1));
  return { values: parts.flatMap((p) => p.values), nodes: [mul, ...parts.flatMap((p) => p.nodes)] };
}

/** `1 + inner` as Add(inner, 1) or Add(1, inner): returns inner's producer node and the Add. */
function onePlus(view: LiftView, value: string, op: string): { inner: OnnxNodeLike; add: OnnxNodeLike } | undefined {
  const add = binaryAdd(view, value);
  const ca = add ? constAndOther(view, add) : undefined;
  if (!add || !ca || !near(ca.c.data.length === 1 ? ca.c.data[0] : undefined, 1, 1e-6)) return undefined;
  const inner = producedBy(view, ca.other, op);
  return inner ? { inner, add } : undefined;
}

/** Add, or a two-input Sum (as ONNX's own function expansions write it). */
function binaryAdd(view: LiftView, value: string): OnnxNodeLike | undefined {
  const n = producedBy(view, value, 'Add', 'Sum');
  return n && n.inputs.length === 2 ? n : undefined;
}

/** The op type T of a `1 + T(…)`, for a near-miss report. */
function onePlusOf(view: LiftView, value: string): string | undefined {
  const add = binaryAdd(view, value);
  const ca = add ? constAndOther(view, add) : undefined;
  return ca && near(ca.c.data[0], 1, 1e-6) ? view.producer(ca.other)?.opType : undefined;
}

/** Gelu as a product 0.5 · x · (1 + T), T = erf(x/√2) or tanh(√(2/π)(x + 0.044715x³)). */
function geluProduct(node: OnnxNodeLike, view: LiftView): LiftResult {
  const { values, nodes } = factors(view, node.outputs[0]!);
  if (values.length !== 3) return null;
  const half = values.find((v) => near(scalarOf(view, v), 0.5, 1e-6));
  const rest = values.filter((v) => v !== half);
  if (!half || rest.length !== 2) return null;
  for (const [x, t] of [[rest[0]!, rest[1]!], [rest[1]!, rest[0]!]] as const) {
    const erf = onePlus(view, t, 'Erf');
    if (erf) {
      const arg = erf.inner.inputs[0]!;
      const div = producedBy(view, arg, 'Div', 'Mul');
      const ca = div ? constAndOther(view, div) : undefined;
      const k = ca ? (div!.opType === 'Div' ? 1 / ca.c.data[0]! : ca.c.data[0]) : undefined;
      if (!ca || ca.other !== x || !nearConstant(view, k, Math.SQRT1_2, 1e-5)) return miss('0.5·x·(1+erf(…)) whose erf argument is not x/√2');
      return lifted({ op: 'Gelu', inputs: [x], outputs: [node.outputs[0]!], attrs: { approximate: 'none' }, weights: {}, covers: [...nodes, erf.add, erf.inner, div!] });
    }
    const tanh = onePlus(view, t, 'Tanh');
    if (tanh) {
      const covers = tanhArgument(view, tanh.inner.inputs[0]!, x);
      if (!covers) return miss('0.5·x·(1+tanh(…)) whose tanh argument is not √(2/π)(x + 0.044715x³)');
      return lifted({ op: 'Gelu', inputs: [x], outputs: [node.outputs[0]!], attrs: { approximate: 'tanh' }, weights: {}, covers: [...nodes, tanh.add, tanh.inner, ...covers] });
    }
    const other = onePlusOf(view, t);
    if (other) return miss(`0.5·x·(1 + ${other}(…)): GELU needs Erf or Tanh there`);
  }
  return null;
}

/** √(2/π)·(x + 0.044715·x³), with x³ as Pow(x, 3) or x·x·x; returns its nodes. */
function tanhArgument(view: LiftView, value: string, x: string): OnnxNodeLike[] | undefined {
  const scale = producedBy(view, value, 'Mul');
  const sa = scale ? constAndOther(view, scale) : undefined;
  if (!sa || !nearConstant(view, sa.c.data[0], SQRT_2_OVER_PI, 1e-5)) return undefined;
  const add = binaryAdd(view, sa.other);
  if (!add) return undefined;
  const cubic = add.inputs[0] === x ? add.inputs[1] : add.inputs[1] === x ? add.inputs[0] : undefined;
  const cm = producedBy(view, cubic, 'Mul');
  const ca = cm ? constAndOther(view, cm) : undefined;
  if (!ca || !nearConstant(view, ca.c.data[0], 0.044715, 1e-5)) return undefined;
  const pow = producedBy(view, ca.other, 'Pow');
  if (pow && pow.inputs[0] === x && near(scalarOf(view, pow.inputs[1]!), 3, 1e-6)) return [scale!, add, cm!, pow];
  const f = factors(view, ca.other);
  return f.values.length === 3 && f.values.every((v) => v === x) ? [scale!, add, cm!, ...f.nodes] : undefined;
}

const gelu: LiftRule = { name: 'gelu-decomposed', anchors: ['Mul'], match: geluProduct };

/** The opset-20 Gelu op. */
const geluOp: LiftRule = {
  name: 'gelu-op',
  anchors: ['Gelu'],
  match(node) {
    const approx = node.attrs.get('approximate') ?? 'none';
    if (approx !== 'none' && approx !== 'tanh') return miss(`Gelu approximate="${String(approx)}"`);
    return lifted({ op: 'Gelu', inputs: [node.inputs[0]!], outputs: [node.outputs[0]!], attrs: { approximate: approx }, weights: {}, covers: [node] });
  },
};

/** SiLU: Mul(x, Sigmoid(x)). */
const silu: LiftRule = {
  name: 'silu',
  anchors: ['Mul'],
  match(node, view) {
    const [a, b] = node.inputs;
    for (const [x, s] of [[a, b], [b, a]] as const) {
      const sig = producedBy(view, s, 'Sigmoid');
      if (sig && sig.inputs[0] === x && view.consumers(s!).length === 1) {
        return lifted({ op: 'Silu', inputs: [x!], outputs: [node.outputs[0]!], attrs: {}, weights: {}, covers: [sig, node] });
      }
    }
    return null;
  },
};

const relu: LiftRule = {
  name: 'relu',
  anchors: ['Relu'],
  match: (node) => lifted({ op: 'Relu', inputs: [node.inputs[0]!], outputs: [node.outputs[0]!], attrs: {}, weights: {}, covers: [node] }),
};

export const ACTIVATION_LIFT_RULES: readonly LiftRule[] = [geluOp, gelu, silu, relu];
