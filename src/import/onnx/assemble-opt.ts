// Lifted ops of an OPT export → the IR the HF importer builds (src/import/hf/opt.ts): same node ids, weight names and layouts.
import { GraphBuilder } from '../../ir/builder.js';
import { ATTENTION_MASK, INPUT_IDS, POSITION_IDS, modelInputs, modelOutputs, pastKey, pastValue, presentKey, presentValue } from '../../ir/io.js';
import type { Graph, ModelSpec } from '../../ir/types.js';
import type { Lifted } from '../../ops/lift.js';
import { OPT_LAYER_NORM_EPS, type OptConfigT } from '../hf/config.js';
import { Walk, Weights, addHead, checkAttention, findEmbedding, linearWeight, sameF32 } from './assemble.js';

export function assembleOpt(ops: readonly Lifted[], config: OptConfigT, spec: ModelSpec, at: string): Graph {
  const walk = new Walk(ops, at);
  const w = new Weights(walk);
  const g = new GraphBuilder(spec);
  const D = spec.hiddenSize, F = config.ffn_dim;
  if ((config.word_embed_proj_dim ?? D) !== D) throw walk.fail('OPT exports with project_in/project_out (word_embed_proj_dim ≠ hidden_size) are lifted from the checkpoint only; convert the safetensors folder');
  const ln = (src: Lifted, id: string, x: string): string => g.op('LayerNorm', id, [x], {
    attrs: { eps: sameF32(src.attrs['eps'], OPT_LAYER_NORM_EPS) },
    weights: { weight: w.add(`${id}.weight`, src.weights['weight'], [D]), bias: w.add(`${id}.bias`, src.weights['bias'], [D]) },
  });
  const linear = (src: Lifted, id: string, x: string, inF: number, outF: number): string => g.op('Linear', id, [x], {
    attrs: { inFeatures: inF, outFeatures: outF, transposed: true },
    weights: { weight: linearWeight(w, `${id}.weight`, src, inF, outF, 'outIn'), bias: w.add(`${id}.bias`, src.weights['bias'], [outF]) },
  });

  const tokL = findEmbedding(walk, INPUT_IDS, 'token');
  const posL = findEmbedding(walk, POSITION_IDS, 'position (at position_ids + 2)');
  const embed = w.add('embed_tokens.weight', tokL.weights['table'], [spec.vocabSize, D]);
  const tok = g.op('Embedding', 'embed_tokens', [INPUT_IDS], { weights: { table: embed } });
  const pos = g.op('Embedding', 'embed_positions', [POSITION_IDS], { weights: { table: w.add('embed_positions.weight', posL.weights['table'], [spec.maxPositions, D]) } });
  let src = walk.sum(tokL.outputs[0]!, posL.outputs[0]!, 'embeddings').outputs[0]!;
  let h = g.op('Add', 'embed', [tok, pos]);
  for (let i = 0; i < spec.numLayers; i++) {
    const at = `layers.${i}`;
    const n1 = walk.next(src, 'LayerNorm', `layer ${i} self_attn_layer_norm`);
    const projs = walk.all(n1.outputs[0]!, 'Linear');
    const attn = projs.map((p) => walk.all(p.outputs[0]!, 'Attention')[0]).find((a) => a !== undefined);
    if (projs.length !== 3 || !attn) throw walk.fail(`layer ${i}: expected Q, K, V projections of self_attn_layer_norm feeding one attention`);
    const [qL, kL, vL] = [0, 1, 2].map((k) => projs.find((p) => p.outputs[0] === attn.inputs[k]) ?? (() => { throw walk.fail(`layer ${i}: attention input ${k} is not a projection of self_attn_layer_norm`); })());
    checkAttention(walk, attn, spec, null, i);
    const x = ln(n1, `${at}.self_attn_layer_norm`, h);
    const q = linear(qL!, `${at}.self_attn.q_proj`, x, D, D);
    const k = linear(kL!, `${at}.self_attn.k_proj`, x, D, D);
    const v = linear(vL!, `${at}.self_attn.v_proj`, x, D, D);
    const [a] = g.add('Attention', `${at}.self_attn`, [q, k, v, ATTENTION_MASK, POSITION_IDS, pastKey(i), pastValue(i)], {
      attrs: { numHeads: spec.numHeads, numKvHeads: spec.numKvHeads, headDim: spec.headDim, ropeTheta: null },
      outputs: [`${at}.self_attn.out`, presentKey(i), presentValue(i)],
    });
    const oL = walk.next(attn.outputs[0]!, 'Linear', `layer ${i} out_proj`);
    const res1 = walk.sum(src, oL.outputs[0]!, `layer ${i} attention residual`);
    h = g.op('Add', `${at}.residual_1`, [h, linear(oL, `${at}.self_attn.out_proj`, a!, D, D)]);
    const n2 = walk.next(res1.outputs[0]!, 'LayerNorm', `layer ${i} final_layer_norm`);
    const fc1L = walk.next(n2.outputs[0]!, 'Linear', `layer ${i} fc1`);
    const reluL = walk.next(fc1L.outputs[0]!, 'Relu', `layer ${i} ReLU`);
    const fc2L = walk.next(reluL.outputs[0]!, 'Linear', `layer ${i} fc2`);
    const fc1 = linear(fc1L, `${at}.fc1`, ln(n2, `${at}.final_layer_norm`, h), D, F);
    const act = g.op('Relu', `${at}.act`, [fc1]);
    src = walk.sum(res1.outputs[0]!, fc2L.outputs[0]!, `layer ${i} MLP residual`).outputs[0]!;
    h = g.op('Add', `${at}.residual_2`, [h, linear(fc2L, `${at}.fc2`, act, F, D)]);
  }
  const nf = walk.next(src, 'LayerNorm', 'final_layer_norm');
  addHead(g, w, walk, ln(nf, 'final_layer_norm', h), spec, embed);
  for (const weight of w.map.values()) g.addWeight(weight);
  return g.build(modelInputs(spec), modelOutputs(spec));
}
