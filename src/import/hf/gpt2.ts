// GPT2LMHeadModel (gpt2, distilgpt2) → IR. Conv1D weights are [in, out]; the LM head is tied to wte unless the config unties it.
import { GraphBuilder } from '../../ir/builder.js';
import { ATTENTION_MASK, INPUT_IDS, LOGITS, POSITION_IDS, modelInputs, modelOutputs, pastKey, pastValue, presentKey, presentValue } from '../../ir/io.js';
import type { Graph, ModelSpec } from '../../ir/types.js';
import type { Checkpoint } from './checkpoint.js';
import type { Gpt2ConfigT } from './config.js';
import { WeightBinder, type BindOptions } from './weights.js';

/** Real checkpoints name weights with or without `transformer.`; attn.bias / attn.masked_bias buffers are ignored. */
const aliases = (name: string): string[] => [`transformer.${name}`, name];

export function buildGpt2(config: Gpt2ConfigT, spec: ModelSpec, ck: Checkpoint, opts: BindOptions = {}): Graph {
  const D = spec.hiddenSize;
  const inner = config.n_inner ?? 4 * D;
  const w = new WeightBinder(ck, opts);
  const g = new GraphBuilder(spec);
  const ln = (id: string, x: string, at: string): string => g.op('LayerNorm', id, [x], {
    attrs: { eps: config.layer_norm_epsilon },
    weights: { weight: w.bind(`${at}.weight`, aliases(`${at}.weight`), [D]), bias: w.bind(`${at}.bias`, aliases(`${at}.bias`), [D]) },
  });
  const conv1d = (x: string, at: string, inF: number, outF: number): string => g.op('Linear', at, [x], {
    attrs: { inFeatures: inF, outFeatures: outF, transposed: false },
    weights: { weight: w.bind(`${at}.weight`, aliases(`${at}.weight`), [inF, outF]), bias: w.bind(`${at}.bias`, aliases(`${at}.bias`), [outF]) },
  });

  const { embed: wte, head } = w.bindEmbeddingAndHead('wte.weight', aliases('wte.weight'), [spec.vocabSize, D], config.tie_word_embeddings);
  const tok = g.op('Embedding', 'wte', [INPUT_IDS], { weights: { table: wte } });
  const pos = g.op('Embedding', 'wpe', [POSITION_IDS], { weights: { table: w.bind('wpe.weight', aliases('wpe.weight'), [spec.maxPositions, D]) } });
  let h = g.op('Add', 'embed', [tok, pos]);
  for (let i = 0; i < spec.numLayers; i++) {
    const at = `h.${i}`;
    const qkv = conv1d(ln(`${at}.ln_1`, h, `${at}.ln_1`), `${at}.attn.c_attn`, D, 3 * D);
    const [q, k, v] = g.add('Split', `${at}.attn.split`, [qkv], { attrs: { sizes: [D, D, D] }, outputs: [`${at}.attn.q`, `${at}.attn.k`, `${at}.attn.v`] });
    const [a] = g.add('Attention', `${at}.attn`, [q!, k!, v!, ATTENTION_MASK, POSITION_IDS, pastKey(i), pastValue(i)], {
      attrs: { numHeads: spec.numHeads, numKvHeads: spec.numKvHeads, headDim: spec.headDim, ropeTheta: null },
      outputs: [`${at}.attn.out`, presentKey(i), presentValue(i)],
    });
    h = g.op('Add', `${at}.residual_1`, [h, conv1d(a!, `${at}.attn.c_proj`, D, D)]);
    const fc = conv1d(ln(`${at}.ln_2`, h, `${at}.ln_2`), `${at}.mlp.c_fc`, D, inner);
    const act = config.activation_function === 'relu'
      ? g.op('Relu', `${at}.mlp.act`, [fc])
      : g.op('Gelu', `${at}.mlp.act`, [fc], { attrs: { approximate: config.activation_function === 'gelu' ? 'none' : 'tanh' } });
    h = g.op('Add', `${at}.residual_2`, [h, conv1d(act, `${at}.mlp.c_proj`, inner, D)]);
  }
  const final = ln('ln_f', h, 'ln_f');
  g.op('Linear', 'lm_head', [final], { attrs: { inFeatures: D, outFeatures: spec.vocabSize, transposed: true }, weights: { weight: head }, outputs: [LOGITS] });
  for (const [, weight] of w.finish()) g.addWeight(weight);
  return g.build(modelInputs(spec), modelOutputs(spec));
}
