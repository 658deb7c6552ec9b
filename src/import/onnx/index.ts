// Imports an ONNX export of a causal LM into the IR: read → fold shape arithmetic → lift (rewrite tables) → assemble as the HF importer would.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { SnnError } from '../../errors/index.js';
import { LOGITS } from '../../ir/io.js';
import type { Graph } from '../../ir/types.js';
import { assertValid } from '../../ops/verify.js';
import { modelSpecOf, readGenerationConfig, readHfConfig } from '../hf/config.js';
import type { ImportedModel } from '../hf/index.js';
import { assembleIr } from './assemble-ir.js';
import { foldConstants } from './fold.js';
import { liftGraph } from './lift.js';
import { assertOpset, readOnnxGraph, type OnnxGraph } from './read.js';
import { GraphView } from './view.js';
import { widenHalfPrecision, type HalfPrecisionReport } from './half-precision.js';

export interface OnnxImportOptions {
  /** The folder with config.json and the tokenizer; default: the ONNX file's folder, else the one above it. */
  readonly configDir?: string;
  /** Import even if weights hold NaN/Inf (reported through onWarning), as for checkpoints. */
  readonly allowNonFinite?: boolean;
  readonly onWarning?: (message: string) => void;
}

export interface ImportedOnnxModel extends ImportedModel {
  readonly onnxPath: string;
  /** Which lifting rule produced how many IR ops. */
  readonly lifted: Readonly<Record<string, number>>;
  /** An fp16/bf16 export: the casts applied to reach float32 (null for a float32 export). */
  readonly half: HalfPrecisionReport | null;
  /** What the importer changed on the way, one line each (merged decoder branch, fp16 widening); also reported through onWarning. */
  readonly notices: readonly string[];
}

const ENCODER_ONLY = /^(bert|roberta|distilbert|albert|electra|deberta(-v2)?|xlm-roberta|camembert|mpnet|ernie|modernbert)$/;
const ENCODER_MESSAGE = 'encoder-only models are not supported: snnconvert converts causal LMs';

/**
 * @example
 * const m = importOnnxModel('fixtures/shakespeare-gpt2/onnx/model.onnx'); // config from fixtures/shakespeare-gpt2
 * m.graph.nodes.length;
 */
export function importOnnxModel(path: string, opts: OnnxImportOptions = {}): ImportedOnnxModel {
  const file = resolve(path);
  const read = readOnnxGraph(file);
  refuseQuantized(read);
  const { graph, half, rounding } = widenHalfPrecision(read);
  const notices = [...graph.notices, ...(half ? [half.notice] : [])];
  for (const n of notices) opts.onWarning?.(`notice: ${n}`);
  refuseEncoderIo(graph);
  const dir = findConfigDir(file, opts.configDir);
  checkCausalLm(graph, dir);
  assertOpset(graph);
  const config = readHfConfig(dir);
  const spec = modelSpecOf(config);
  const folded = foldConstants(graph);
  const view = new GraphView(graph, folded, rounding);
  const { ops, ruleOf } = liftGraph(view);
  const ir = assembleIr(ops, config, spec, file);
  checkFinite(ir, file, opts);
  const lifted: Record<string, number> = {};
  for (const rule of ruleOf.values()) lifted[rule] = (lifted[rule] ?? 0) + 1;
  return {
    dir, config, generationConfig: readGenerationConfig(dir), graph: assertValid(ir, `import ${file}`),
    weightFiles: [file, ...graph.externalFiles], onnxPath: file, lifted, half, notices,
  };
}

/** `configDir`, else the ONNX file's folder, else its parent (transformers.js keeps model.onnx under onnx/). */
export function findConfigDir(file: string, configDir?: string): string {
  if (configDir !== undefined) {
    const dir = resolve(configDir);
    if (!existsSync(join(dir, 'config.json'))) throw new SnnError('CONFIG_MISSING', { message: `no config.json in ${dir} (given by --tokenizer)`, at: dir, hint: '--tokenizer must name the model folder holding config.json and the tokenizer files' });
    return dir;
  }
  const here = dirname(file);
  for (const dir of [here, dirname(here)]) if (existsSync(join(dir, 'config.json'))) return dir;
  throw new SnnError('CONFIG_MISSING', {
    message: `no config.json beside ${file} or in the folder above it; the ONNX file alone does not say the architecture, and there is no tokenizer`,
    at: file,
    hint: 'put the model\'s config.json, tokenizer.json and tokenizer_config.json beside it (or one folder up), or pass --tokenizer DIR naming the folder that has them',
  });
}

/** Quantization ops by kind: dynamic int8 (optimum's model_quantized.onnx), QDQ, weight-only int4/int8 (onnxruntime contrib). */
const QUANTIZATION: readonly (readonly [string, ReadonlySet<string>])[] = [
  ['dynamic int8 quantization', new Set(['DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'DynamicQuantizeMatMul', 'DynamicQuantizeLSTM'])],
  ['QDQ quantization', new Set(['QuantizeLinear', 'DequantizeLinear', 'QLinearMatMul', 'QLinearConv', 'QLinearAdd', 'QLinearMul', 'QGemm', 'QAttention'])],
  ['weight-only 4/8-bit quantization', new Set(['MatMulNBits', 'MatMulBnb4', 'GatherBlockQuantized'])],
];

/**
 * A quantized export is refused in one line that names the quantization and the fp32 file to use:
 * its integer weights are not the model's, and a spiking conversion of them would be judged against the wrong ANN.
 */
function refuseQuantized(graph: OnnxGraph): void {
  const found = QUANTIZATION.map(([kind, ops]) => [kind, [...new Set(graph.nodes.filter((n) => ops.has(n.opType)).map((n) => n.opType))]] as const).filter(([, ops]) => ops.length > 0);
  if (found.length === 0) return;
  const [kind, ops] = found[0]!;
  const fp32 = ['model.onnx', 'decoder_model_merged.onnx'].map((f) => join(graph.dir, f)).find((f) => f !== graph.path && existsSync(f));
  throw new SnnError('ONNX_QUANTIZED', {
    message: `${basename(graph.path)} uses ${kind} (${ops.join(', ')}); convert ${fp32 ?? 'the fp32 export (onnx/model.onnx)'} instead`,
    at: graph.path,
    hint: fp32 ? `snnconvert convert ${fp32}` : 'export the model in fp32 (optimum-cli export onnx --task text-generation-with-past) and convert onnx/model.onnx',
  });
}

const encoderOnly = (at: string): SnnError => new SnnError('MODEL_TYPE_UNSUPPORTED', { message: ENCODER_MESSAGE, at, hint: 'convert a decoder-only causal LM (GPT-2 or Llama family)' });

/** BERT-like I/O (token_type_ids in, hidden states out, no logits): refused before anything else is asked of it. */
function refuseEncoderIo(graph: OnnxGraph): void {
  const encoderIo = graph.inputs.includes('token_type_ids') || graph.outputs.some((o) => o === 'last_hidden_state' || o === 'pooler_output');
  if (encoderIo && !graph.outputs.includes(LOGITS)) throw encoderOnly(graph.path);
}

/** Refuses encoder-only model types with the issue's message, and graphs without a logits output. */
function checkCausalLm(graph: OnnxGraph, dir: string): void {
  let modelType: unknown;
  try { modelType = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>)['model_type']; } catch { modelType = undefined; }
  if (typeof modelType === 'string' && ENCODER_ONLY.test(modelType)) throw encoderOnly(graph.path);
  if (!graph.outputs.includes(LOGITS)) {
    throw new SnnError('ONNX_NO_LOGITS', { message: `the graph's outputs are ${graph.outputs.map((o) => `"${o}"`).join(', ') || 'none'}; none is "logits"`, at: graph.path });
  }
}

/** Weights holding NaN/Inf are refused (TENSOR_NONFINITE) unless allowed, as the checkpoint importer does. */
function checkFinite(graph: Graph, file: string, opts: OnnxImportOptions): void {
  const bad: string[] = [];
  for (const w of graph.weights.values()) {
    if (w.source.kind !== 'data') continue;
    let n = 0;
    for (const x of w.source.data) if (!Number.isFinite(x)) n++;
    if (n > 0) bad.push(`${w.name} has ${n} NaN/Inf values`);
  }
  if (bad.length === 0) return;
  if (!opts.allowNonFinite) throw new SnnError('TENSOR_NONFINITE', { message: bad.join('; '), at: file });
  for (const b of bad) opts.onWarning?.(`warning: ${b} (converting anyway: --allow-nonfinite)`);
}
