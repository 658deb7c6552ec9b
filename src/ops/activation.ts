// Pointwise activations (GELU, ReLU, SiLU). In a spiking graph each is a temporal-difference operator.
import type { AttrHolder, OpDef } from './op.js';
import { choiceAttr } from './op.js';

export const GELU_APPROXIMATIONS = ['none', 'tanh'] as const;
/** GELU's attribute: exact (erf) or HF's tanh approximation. */
export interface GeluAttrs {
  readonly approximate: (typeof GELU_APPROXIMATIONS)[number];
}

/** The typed attributes of a Gelu (an IR node or an op lifted from ONNX). */
export function geluAttrs(node: AttrHolder): GeluAttrs {
  return { approximate: choiceAttr(node, 'approximate', GELU_APPROXIMATIONS) };
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU; `approximate: 'tanh'` is HF's gelu_new (Hendrycks & Gimpel 2016, eq. for the tanh form). */
export const gelu: OpDef = {
  name: 'Gelu',
  doc: "GELU, exact (erf) or approximate: 'tanh' (gelu_new)",
  numInputs: 1,
  numOutputs: 1,
  weights: [],
  check: (node) => (node.attrs['approximate'] === 'tanh' || node.attrs['approximate'] === 'none' ? [] : ["attribute approximate must be 'tanh' or 'none'"]),
  lowerAnn: (ctx) => {
    const { b, node } = ctx;
    const x = ctx.input(0);
    let inner: string;
    if (geluAttrs(node).approximate === 'tanh') {
      const x3 = b.op('Mul', [b.op('Mul', [x, x], {}, node.id), x], {}, node.id);
      const poly = b.op('Add', [x, b.op('Mul', [x3, b.scalar(0.044715)], {}, node.id)], {}, node.id);
      inner = b.op('Tanh', [b.op('Mul', [poly, b.scalar(SQRT_2_OVER_PI)], {}, node.id)], {}, node.id);
    } else {
      inner = b.op('Erf', [b.op('Mul', [x, b.scalar(Math.SQRT1_2)], {}, node.id)], {}, node.id);
    }
    const onePlus = b.op('Add', [inner, b.scalar(1)], {}, node.id);
    return [b.op('Mul', [b.op('Mul', [x, onePlus], {}, node.id), b.scalar(0.5)], {}, node.id)];
  },
  snn: { kind: 'td' },
};

export const relu: OpDef = {
  name: 'Relu',
  doc: 'max(x, 0)',
  numInputs: 1,
  numOutputs: 1,
  weights: [],
  check: () => [],
  lowerAnn: (ctx) => [ctx.b.op('Relu', [ctx.input(0)], {}, ctx.node.id)],
  snn: { kind: 'td' },
};

export const silu: OpDef = {
  name: 'Silu',
  doc: 'x · sigmoid(x)',
  numInputs: 1,
  numOutputs: 1,
  weights: [],
  check: () => [],
  lowerAnn: (ctx) => [ctx.b.op('Mul', [ctx.input(0), ctx.b.op('Sigmoid', [ctx.input(0)], {}, ctx.node.id)], {}, ctx.node.id)],
  snn: { kind: 'td' },
};
