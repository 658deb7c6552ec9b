// config.json and generation_config.json: read once, validated, normalised into a ModelSpec.
import { CONFIG_LIMITS } from '../../ir/limits.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SnnError } from '../../errors/index.js';
import type { ModelSpec } from '../../ir/types.js';

export const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'opt', 'qwen2'] as const;
export type SupportedModelType = typeof SUPPORTED_MODEL_TYPES[number];

const tokenId = z.union([z.number().int(), z.array(z.number().int())]).nullish();
const positive = z.number().int().positive();

/**
 * Sizes beyond any real checkpoint, refused before anything is sized from them (the largest
 * published vocabularies are ~256k, contexts ~10M, widths ~32k, depths ~200).
 */
const bounded = (max: number, what: string) => positive.max(max, `${what} over ${max} would exhaust memory; no real model is that large`);
const vocab = bounded(CONFIG_LIMITS.vocab, 'a vocabulary');
const positions = bounded(CONFIG_LIMITS.positions, 'a context');
const width = bounded(CONFIG_LIMITS.width, 'a width');
const layers = bounded(CONFIG_LIMITS.layers, 'a depth');
const heads = bounded(CONFIG_LIMITS.heads, 'a head count');

const Gpt2Config = z.object({
  model_type: z.literal('gpt2'),
  vocab_size: vocab,
  n_embd: width,
  n_layer: layers,
  n_head: heads,
  n_positions: positions,
  n_inner: bounded(4 * CONFIG_LIMITS.width, 'an MLP width').nullish(),
  activation_function: z.enum(['gelu_new', 'gelu', 'gelu_pytorch_tanh', 'gelu_fast', 'relu']).default('gelu_new'),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  tie_word_embeddings: z.boolean().default(true),
  scale_attn_weights: z.literal(true).default(true),
  bos_token_id: tokenId,
  eos_token_id: tokenId,
}).loose();

/**
 * rope_scaling: absent, null or the plain rope (`{"rope_type": "default"}`); every scaled rope is refused by
 * name, since the Attention op computes unscaled RoPE from rope_theta alone.
 */
const ropeScaling = z.record(z.string(), z.unknown()).nullable().optional().superRefine((r, ctx) => {
  if (r === null || r === undefined) return;
  const kind = r['rope_type'] ?? r['type'];
  if (kind !== 'default') ctx.addIssue({ code: 'custom', message: `rope_scaling type ${JSON.stringify(kind ?? null)} is not supported (supported: none, "default")` });
});

/** Fields Llama and Qwen2 share; Qwen2 is a Llama with q/k/v biases and (usually) tied embeddings. */
const llamaFields = {
  vocab_size: vocab,
  hidden_size: width,
  intermediate_size: bounded(4 * CONFIG_LIMITS.width, 'an MLP width'),
  num_hidden_layers: layers,
  num_attention_heads: heads,
  num_key_value_heads: heads.nullish(),
  head_dim: width.nullish(),
  max_position_embeddings: positions,
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: ropeScaling,
  hidden_act: z.literal('silu').default('silu'),
  bos_token_id: tokenId,
  eos_token_id: tokenId,
};
const gqa = {
  message: 'num_attention_heads must be a multiple of num_key_value_heads (grouped-query attention)', path: ['num_key_value_heads'],
};
const divides = (c: { num_attention_heads: number; num_key_value_heads?: number | null | undefined }): boolean =>
  (c.num_attention_heads % (c.num_key_value_heads ?? c.num_attention_heads)) === 0;

const LlamaConfig = z.object({
  model_type: z.literal('llama'),
  ...llamaFields,
  tie_word_embeddings: z.boolean().default(false),
  attention_bias: z.boolean().default(false),
  mlp_bias: z.boolean().default(false),
}).loose().refine(divides, gqa);

const Qwen2Config = z.object({
  model_type: z.literal('qwen2'),
  ...llamaFields,
  tie_word_embeddings: z.boolean().default(false),
  use_sliding_window: z.literal(false, { message: 'sliding-window attention (use_sliding_window: true) is not supported; every layer must attend to the whole context' }).default(false),
}).loose().refine(divides, gqa);

/** OPTForCausalLM; its LayerNorms are nn.LayerNorm with the default eps 1e-5 (the config has no eps field). */
const OptConfig = z.object({
  model_type: z.literal('opt'),
  vocab_size: vocab,
  hidden_size: width,
  ffn_dim: bounded(4 * CONFIG_LIMITS.width, 'an MLP width'),
  num_hidden_layers: layers,
  num_attention_heads: heads,
  max_position_embeddings: positions,
  word_embed_proj_dim: width.nullish(),
  do_layer_norm_before: z.literal(true, { message: 'post-LN OPT (do_layer_norm_before: false, as opt-350m) is not supported; the pre-LN sizes (125m, 1.3b and up) are' }).default(true),
  _remove_final_layer_norm: z.literal(false, { message: '_remove_final_layer_norm: true is not supported' }).default(false),
  activation_function: z.literal('relu', { message: 'OPT with an activation other than relu is not supported' }).default('relu'),
  enable_bias: z.literal(true, { message: 'OPT without biases (enable_bias: false) is not supported' }).default(true),
  layer_norm_elementwise_affine: z.literal(true, { message: 'OPT LayerNorms without weights (layer_norm_elementwise_affine: false) are not supported' }).default(true),
  tie_word_embeddings: z.boolean().default(true),
  bos_token_id: tokenId,
  eos_token_id: tokenId,
}).loose();

/** The LayerNorm eps of OPT (nn.LayerNorm's default; OPT's config does not set it). */
export const OPT_LAYER_NORM_EPS = 1e-5;

export type Gpt2ConfigT = z.infer<typeof Gpt2Config>;
export type LlamaConfigT = z.infer<typeof LlamaConfig>;
export type Qwen2ConfigT = z.infer<typeof Qwen2Config>;
export type OptConfigT = z.infer<typeof OptConfig>;
export type HfConfig = Gpt2ConfigT | LlamaConfigT | Qwen2ConfigT | OptConfigT;

const SCHEMAS = { gpt2: Gpt2Config, llama: LlamaConfig, qwen2: Qwen2Config, opt: OptConfig } as const;

/** Reads and validates `<dir>/config.json`; every invalid field is reported at once. */
export function readHfConfig(dir: string): HfConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new SnnError('CONFIG_MISSING', { message: `no config.json in ${dir}`, at: path });
  const raw = readJsonStrict(path);
  const type = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['model_type'] : undefined;
  if (typeof type === 'string' && type !== '' && !isSupported(type)) {
    throw new SnnError('ARCH_UNSUPPORTED', {
      message: `${architectureOf(raw, type)} is not a family snnconvert converts (supported model_type: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
      at: path,
      hint: `convert a model whose model_type is one of: ${SUPPORTED_MODEL_TYPES.join(', ')} (the README lists the supported families)`,
    });
  }
  if (!isSupported(type)) {
    throw new SnnError('MODEL_TYPE_UNSUPPORTED', {
      message: `model_type ${JSON.stringify(type ?? null)} (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
      at: path,
      hint: `convert a model whose model_type is one of: ${SUPPORTED_MODEL_TYPES.join(', ')}`,
    });
  }
  const parsed = SCHEMAS[type].safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new SnnError('CONFIG_INVALID', { message: problems.join('; '), at: path });
  }
  return parsed.data;
}

function isSupported(type: unknown): type is SupportedModelType {
  return typeof type === 'string' && (SUPPORTED_MODEL_TYPES as readonly string[]).includes(type);
}

/** `model_type "mistral" (MistralForCausalLM)` from the config's model_type and architectures. */
function architectureOf(raw: unknown, type: string): string {
  const archs = (raw as Record<string, unknown>)['architectures'];
  const names = Array.isArray(archs) ? archs.filter((a): a is string => typeof a === 'string') : [];
  return `model_type ${JSON.stringify(type)}${names.length ? ` (${names.join(', ')})` : ''}`;
}

/** The architecture facts every stage needs, from a validated config. */
export function modelSpecOf(config: HfConfig): ModelSpec {
  const ids = { bosTokenId: firstId(config.bos_token_id), eosTokenId: config.eos_token_id ?? null };
  if (config.model_type === 'gpt2') {
    return {
      arch: 'gpt2', vocabSize: config.vocab_size, hiddenSize: config.n_embd, numLayers: config.n_layer,
      numHeads: config.n_head, numKvHeads: config.n_head, headDim: config.n_embd / config.n_head, maxPositions: config.n_positions, ...ids,
    };
  }
  if (config.model_type === 'opt') {
    const heads = config.num_attention_heads;
    return {
      arch: 'opt', vocabSize: config.vocab_size, hiddenSize: config.hidden_size, numLayers: config.num_hidden_layers,
      numHeads: heads, numKvHeads: heads, headDim: config.hidden_size / heads, maxPositions: config.max_position_embeddings, ...ids,
    };
  }
  const heads = config.num_attention_heads;
  return {
    arch: config.model_type, vocabSize: config.vocab_size, hiddenSize: config.hidden_size, numLayers: config.num_hidden_layers,
    numHeads: heads, numKvHeads: config.num_key_value_heads ?? heads, headDim: config.head_dim ?? config.hidden_size / heads,
    maxPositions: config.max_position_embeddings, ...ids,
  };
}

function firstId(id: number | number[] | null | undefined): number | null {
  if (id === null || id === undefined) return null;
  return Array.isArray(id) ? id[0] ?? null : id;
}

const GenerationConfig = z.object({
  eos_token_id: tokenId,
  bos_token_id: tokenId,
  pad_token_id: tokenId,
  max_length: z.number().int().positive().optional(),
  max_new_tokens: z.number().int().positive().optional(),
  do_sample: z.boolean().optional(),
  temperature: z.number().optional(),
  top_k: z.number().int().optional(),
  top_p: z.number().optional(),
  repetition_penalty: z.number().optional(),
}).loose();

export type GenerationConfigT = z.infer<typeof GenerationConfig>;

/** `generation_config.json` when present (invalid → CONFIG_INVALID), else an empty object. */
export function readGenerationConfig(dir: string): GenerationConfigT {
  const path = join(dir, 'generation_config.json');
  if (!existsSync(path)) return {};
  const raw = readJsonStrict(path);
  const parsed = GenerationConfig.safeParse(raw);
  if (!parsed.success) throw new SnnError('CONFIG_INVALID', { message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), at: path });
  return parsed.data;
}

/** JSON from strict UTF-8 (as Python's json.load reads it: a bad byte is an error, not U+FFFD); a folder or unreadable file is CONFIG_INVALID. */
function readJsonStrict(path: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path)));
  } catch (e) {
    throw new SnnError('CONFIG_INVALID', { message: `not valid UTF-8 JSON (${(e as Error).message})`, at: path, cause: e });
  }
}

export { CONFIG_LIMITS };
