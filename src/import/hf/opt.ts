// OPTForCausalLM (facebook/opt-125m, 1.3b, …; pre-LN) → IR: learned positions stored with an offset of 2, ReLU MLP.
import { GraphBuilder } from '../../ir/builder.js';
import { ATTENTION_MASK, INPUT_IDS, LOGITS, POSITION_IDS, modelInputs, modelOutputs, pastKey, pastValue, presentKey, presentValue } from '../../ir/io.js';
import type { Graph, ModelSpec } from '../../ir/types.js';
import type { Checkpoint } from './checkpoint.js';
import { OPT_LAYER_NORM_EPS, type OptConfigT } from './config.js';
import { WeightBinder, type BindOptions } from './weights.js';

/** OPT's position table has 2 rows before position 0 (fairseq's padding offset): position p reads row p + 2. */
export const OPT_POSITION_OFFSET = 2;

/** Checkpoints name weights `model.decoder.…` (transformers), `decoder.…` (the original release) or bare. */
const aliases = (name: string): string[] => [`model.decoder.${name}`, `decoder.${name}`, name];

export function buildOpt(config: OptConfigT, spec: ModelSpec, ck: Checkpoint, opts: BindOptions = {}): Graph {
  const D = spec.hiddenSize;
  const F = config.ffn_dim;
  const E = config.word_embed_proj_dim ?? D;
  const w = new WeightBinder(ck, opts);
  const g = new GraphBuilder(spec);
  const ln = (x: string, at: string): string => g.op('LayerNorm', at, [x], {
    attrs: { eps: OPT_LAYER_NORM_EPS },
    weights: { weight: w.bind(`${at}.weight`, aliases(`${at}.weight`), [D]), bias: w.bind(`${at}.bias`, aliases(`${at}.bias`), [D]) },
  });
  // nn.Linear stores [out, in]: lowered with transB, used in place.
  const linear = (x: string, at: string, inF: number, outF: number, bias: boolean): string => g.op('Linear', at, [x], {
    attrs: { inFeatures: inF, outFeatures: outF, transposed: true },
    weights: {
      weight: w.bind(`${at}.weight`, aliases(`${at}.weight`), [outF, inF]),
      ...(bias ? { bias: w.bind(`${at}.bias`, aliases(`${at}.bias`), [outF]) } : {}),
    },
  });

  const { embed, head } = w.bindEmbeddingAndHead('embed_tokens.weight', aliases('embed_tokens.weight'), [spec.vocabSize, E], config.tie_word_embeddings);
  let tok = g.op('Embedding', 'embed_tokens', [INPUT_IDS], { weights: { table: embed } });
  if (E !== D) tok = linear(tok, 'project_in', E, D, false);
  const table = w.bindRows('embed_positions.weight', aliases('embed_positions.weight'), [spec.maxPositions, D], OPT_POSITION_OFFSET);
  const pos = g.op('Embedding', 'embed_positions', [POSITION_IDS], { weights: { table } });
  let h = g.op('Add', 'embed', [tok, pos]);
  for (let i = 0; i < spec.numLayers; i++) {
    const at = `layers.${i}`;
    const x = ln(h, `${at}.self_attn_layer_norm`);
    const q = linear(x, `${at}.self_attn.q_proj`, D, D, true);
    const k = linear(x, `${at}.self_attn.k_proj`, D, D, true);
    const v = linear(x, `${at}.self_attn.v_proj`, D, D, true);
    const [a] = g.add('Attention', `${at}.self_attn`, [q, k, v, ATTENTION_MASK, POSITION_IDS, pastKey(i), pastValue(i)], {
      attrs: { numHeads: spec.numHeads, numKvHeads: spec.numKvHeads, headDim: spec.headDim, ropeTheta: null },
      outputs: [`${at}.self_attn.out`, presentKey(i), presentValue(i)],
    });
    h = g.op('Add', `${at}.residual_1`, [h, linear(a!, `${at}.self_attn.out_proj`, D, D, true)]);
    const fc1 = linear(ln(h, `${at}.final_layer_norm`), `${at}.fc1`, D, F, true);
    const act = g.op('Relu', `${at}.act`, [fc1]);
    h = g.op('Add', `${at}.residual_2`, [h, linear(act, `${at}.fc2`, F, D, true)]);
  }
  let final = ln(h, 'final_layer_norm');
  if (E !== D) final = linear(final, 'project_out', D, E, false);
  g.op('Linear', 'lm_head', [final], { attrs: { inFeatures: E, outFeatures: spec.vocabSize, transposed: true }, weights: { weight: head }, outputs: [LOGITS] });
  for (const [, weight] of w.finish()) g.addWeight(weight);
  return g.build(modelInputs(spec), modelOutputs(spec));
}
