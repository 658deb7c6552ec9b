// LlamaForCausalLM (SmolLM2, TinyLlama, …) and Qwen2ForCausalLM → IR: RMSNorm, SwiGLU, RoPE (rotate_half), grouped-query attention.
import { GraphBuilder } from '../../ir/builder.js';
import { ATTENTION_MASK, INPUT_IDS, LOGITS, POSITION_IDS, modelInputs, modelOutputs, pastKey, pastValue, presentKey, presentValue } from '../../ir/io.js';
import type { Graph, ModelSpec } from '../../ir/types.js';
import type { Checkpoint } from './checkpoint.js';
import type { LlamaConfigT, Qwen2ConfigT } from './config.js';
import { WeightBinder, type BindOptions } from './weights.js';

const aliases = (name: string): string[] => [`model.${name}`, name];

/** Qwen2 is this graph with biases on q/k/v (not o_proj, not the MLP). */
export function buildLlama(config: LlamaConfigT | Qwen2ConfigT, spec: ModelSpec, ck: Checkpoint, opts: BindOptions = {}): Graph {
  const D = spec.hiddenSize;
  const I = config.intermediate_size;
  const qD = spec.numHeads * spec.headDim;
  const kvD = spec.numKvHeads * spec.headDim;
  const w = new WeightBinder(ck, opts);
  const g = new GraphBuilder(spec);
  const rms = (x: string, at: string): string => g.op('RMSNorm', at, [x], {
    attrs: { eps: config.rms_norm_eps }, weights: { weight: w.bind(`${at}.weight`, aliases(`${at}.weight`), [D]) },
  });
  // nn.Linear stores [out, in]: lowered with transB, used in place.
  const linear = (x: string, at: string, inF: number, outF: number, bias: boolean): string => g.op('Linear', at, [x], {
    attrs: { inFeatures: inF, outFeatures: outF, transposed: true },
    weights: {
      weight: w.bind(`${at}.weight`, aliases(`${at}.weight`), [outF, inF]),
      ...(bias ? { bias: w.bind(`${at}.bias`, aliases(`${at}.bias`), [outF]) } : {}),
    },
  });

  const { embed, head } = w.bindEmbeddingAndHead('embed_tokens.weight', aliases('embed_tokens.weight'), [spec.vocabSize, D], config.tie_word_embeddings);
  const qkvBias = config.model_type === 'qwen2' || config.attention_bias;
  const oBias = config.model_type === 'llama' && config.attention_bias;
  const mlpBias = config.model_type === 'llama' && config.mlp_bias;
  let h = g.op('Embedding', 'embed_tokens', [INPUT_IDS], { weights: { table: embed } });
  for (let i = 0; i < spec.numLayers; i++) {
    const at = `layers.${i}`;
    const x = rms(h, `${at}.input_layernorm`);
    const q = linear(x, `${at}.self_attn.q_proj`, D, qD, qkvBias);
    const k = linear(x, `${at}.self_attn.k_proj`, D, kvD, qkvBias);
    const v = linear(x, `${at}.self_attn.v_proj`, D, kvD, qkvBias);
    const [a] = g.add('Attention', `${at}.self_attn`, [q, k, v, ATTENTION_MASK, POSITION_IDS, pastKey(i), pastValue(i)], {
      attrs: { numHeads: spec.numHeads, numKvHeads: spec.numKvHeads, headDim: spec.headDim, ropeTheta: config.rope_theta },
      outputs: [`${at}.self_attn.out`, presentKey(i), presentValue(i)],
    });
    h = g.op('Add', `${at}.residual_1`, [h, linear(a!, `${at}.self_attn.o_proj`, qD, D, oBias)]);
    const y = rms(h, `${at}.post_attention_layernorm`);
    const gate = g.op('Silu', `${at}.mlp.act`, [linear(y, `${at}.mlp.gate_proj`, D, I, mlpBias)]);
    const up = linear(y, `${at}.mlp.up_proj`, D, I, mlpBias);
    const prod = g.op('Mul', `${at}.mlp.gate_mul`, [gate, up]);
    h = g.op('Add', `${at}.residual_2`, [h, linear(prod, `${at}.mlp.down_proj`, I, D, mlpBias)]);
  }
  const final = rms(h, 'norm');
  g.op('Linear', 'lm_head', [final], { attrs: { inFeatures: D, outFeatures: spec.vocabSize, transposed: true }, weights: { weight: head }, outputs: [LOGITS] });
  for (const [, weight] of w.finish()) g.addWeight(weight);
  return g.build(modelInputs(spec), modelOutputs(spec));
}
