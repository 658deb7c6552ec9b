// Elementwise arithmetic: Add is linear (spike-exact), Mul of two signals is a TD operator.
import type { OpDef } from './op.js';
import { numsAttr } from './op.js';

export const add: OpDef = {
  name: 'Add',
  doc: 'a + b (residual connections)',
  numInputs: 2,
  numOutputs: 1,
  weights: [],
  check: () => [],
  lowerAnn: (ctx) => [ctx.b.op('Add', [ctx.input(0), ctx.input(1)], {}, ctx.node.id)],
  snn: { kind: 'linear' },
};

export const mul: OpDef = {
  name: 'Mul',
  doc: 'a · b elementwise (the SwiGLU gate)',
  numInputs: 2,
  numOutputs: 1,
  weights: [],
  check: () => [],
  lowerAnn: (ctx) => [ctx.b.op('Mul', [ctx.input(0), ctx.input(1)], {}, ctx.node.id)],
  // A product of two signals is not linear in time: TD over the running means of both.
  snn: { kind: 'td' },
};

export const split: OpDef = {
  name: 'Split',
  doc: 'splits the last axis into parts of the given sizes (fused QKV)',
  numInputs: 1,
  numOutputs: 3,
  weights: [],
  check: (node) => {
    const sizes = node.attrs['sizes'];
    return Array.isArray(sizes) && sizes.length === node.outputs.length ? [] : ['attribute sizes must list one size per output'];
  },
  lowerAnn: (ctx) => ctx.b.add('Split', [ctx.input(0), ctx.b.ints(numsAttr(ctx.node, 'sizes'))], { axis: -1 }, { scope: ctx.node.id, count: ctx.node.outputs.length }),
  snn: { kind: 'linear' },
};
