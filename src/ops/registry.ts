// The op registry: one list of op definitions; every index is derived from it.
import { gelu, relu, silu } from './activation.js';
import { add, mul, split } from './arith.js';
import { attention, spikeAttention } from './attention.js';
import { embedding, linear } from './linear.js';
import { layerNorm, rmsNorm, spikeLayerNorm, spikeRmsNorm } from './norm.js';
import type { OpDef } from './op.js';
import { neuron, temporalMean } from './spiking.js';
import { SnnError } from '../errors/index.js';

export const OPS: readonly OpDef[] = [
  embedding, linear, add, mul, split,
  layerNorm, rmsNorm, gelu, relu, silu, attention,
  spikeLayerNorm, spikeRmsNorm, spikeAttention, neuron, temporalMean,
];

const BY_NAME = new Map(OPS.map((op) => [op.name, op]));

export function findOp(name: string): OpDef | undefined {
  return BY_NAME.get(name);
}

export function getOp(name: string, at: string): OpDef {
  const op = BY_NAME.get(name);
  if (!op) throw new SnnError('OP_UNSUPPORTED', { message: `IR op ${name} is not registered (known: ${[...BY_NAME.keys()].join(', ')})`, at });
  return op;
}
