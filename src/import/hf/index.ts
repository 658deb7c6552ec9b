// Imports a HuggingFace model folder (config + safetensors) into the IR.
import { SnnError } from '../../errors/index.js';
import { assertValid } from '../../ops/verify.js';
import type { Graph } from '../../ir/types.js';
import { openCheckpoint } from './checkpoint.js';
import { modelSpecOf, readGenerationConfig, readHfConfig, type GenerationConfigT, type HfConfig } from './config.js';
import { buildGpt2 } from './gpt2.js';
import { buildLlama } from './llama.js';
import { buildOpt } from './opt.js';
import type { BindOptions } from './weights.js';

export interface ImportedModel {
  readonly dir: string;
  readonly config: HfConfig;
  readonly generationConfig: GenerationConfigT;
  readonly graph: Graph;
  /** The safetensors files the weights come from. */
  readonly weightFiles: readonly string[];
}

export function importHfModel(dir: string, opts: BindOptions = {}): ImportedModel {
  const config = readHfConfig(dir);
  const generationConfig = readGenerationConfig(dir);
  const spec = modelSpecOf(config);
  if (!Number.isInteger(spec.headDim)) throw new SnnError('CONFIG_INVALID', { message: `hidden size ${spec.hiddenSize} is not divisible by ${spec.numHeads} heads`, at: `${dir}/config.json` });
  const ck = openCheckpoint(dir);
  const graph = config.model_type === 'gpt2' ? buildGpt2(config, spec, ck, opts)
    : config.model_type === 'opt' ? buildOpt(config, spec, ck, opts)
      : buildLlama(config, spec, ck, opts);
  return { dir, config, generationConfig, graph: assertValid(graph, `import ${dir}`), weightFiles: ck.files };
}
