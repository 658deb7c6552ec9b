// LayerNorm and RMSNorm, and their spiking forms: temporal-difference norms (docs/design.md §2, SpikeLayerNorm).
import type { LowerCtx, OpDef } from './op.js';
import { numAttr, requireNumbers } from './op.js';

function lowerLayerNorm(ctx: LowerCtx): string[] {
  const { b, node } = ctx;
  return [b.op('LayerNormalization', [ctx.input(0), ctx.weight('weight'), ctx.weight('bias')], { axis: -1, epsilon: { float: numAttr(node, 'eps') } }, node.id)];
}

/** RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x²) + eps) · w, as in HF LlamaRMSNorm. */
function lowerRmsNorm(ctx: LowerCtx): string[] {
  const { b, node } = ctx;
  const x = ctx.input(0);
  const sq = b.op('Mul', [x, x], {}, node.id);
  const ms = b.op('ReduceMean', [sq], { axes: [-1], keepdims: 1 }, node.id);
  const rms = b.op('Sqrt', [b.op('Add', [ms, b.scalar(numAttr(node, 'eps'))], {}, node.id)], {}, node.id);
  const normed = b.op('Div', [x, rms], {}, node.id);
  return [b.op('Mul', [normed, ctx.weight('weight')], {}, node.id)];
}

const checkEps = (node: Parameters<OpDef['check']>[0]) => requireNumbers(node, ['eps']);

export const layerNorm: OpDef = {
  name: 'LayerNorm',
  doc: 'LayerNorm over the last axis with weight and bias',
  numInputs: 1,
  numOutputs: 1,
  weights: ['weight', 'bias'],
  check: checkEps,
  lowerAnn: lowerLayerNorm,
  snn: { kind: 'unsupported', why: 'LayerNorm has no spiking form by itself: run the layernorm-to-spike pass (SpikeLayerNorm)' },
};

export const spikeLayerNorm: OpDef = {
  name: 'SpikeLayerNorm',
  doc: 'temporal-difference LayerNorm: y_t = t·LN(m_t) − (t−1)·LN(m_{t−1}) over running means m_t',
  numInputs: 1,
  numOutputs: 1,
  weights: ['weight', 'bias'],
  check: checkEps,
  lowerAnn: lowerLayerNorm,
  snn: { kind: 'td' },
};

export const rmsNorm: OpDef = {
  name: 'RMSNorm',
  doc: 'RMSNorm over the last axis with weight',
  numInputs: 1,
  numOutputs: 1,
  weights: ['weight'],
  check: checkEps,
  lowerAnn: lowerRmsNorm,
  snn: { kind: 'unsupported', why: 'RMSNorm has no spiking form by itself: run the layernorm-to-spike pass (SpikeRMSNorm)' },
};

export const spikeRmsNorm: OpDef = {
  name: 'SpikeRMSNorm',
  doc: 'temporal-difference RMSNorm over running means',
  numInputs: 1,
  numOutputs: 1,
  weights: ['weight'],
  check: checkEps,
  lowerAnn: lowerRmsNorm,
  snn: { kind: 'td' },
};
