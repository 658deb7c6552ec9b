// The checkpoint IR of lifted ONNX ops, by family: the one place that picks the assembler for a model_type.
import type { Graph, ModelSpec } from '../../ir/types.js';
import type { Lifted } from '../../ops/lift.js';
import type { HfConfig } from '../hf/config.js';
import { assembleGpt2, assembleLlama } from './assemble.js';
import { assembleOpt } from './assemble-opt.js';

export function assembleIr(ops: readonly Lifted[], config: HfConfig, spec: ModelSpec, at: string): Graph {
  if (config.model_type === 'gpt2') return assembleGpt2(ops, config, spec, at);
  if (config.model_type === 'opt') return assembleOpt(ops, config, spec, at);
  return assembleLlama(ops, config, spec, at);
}
