// Lifted ops → the IR the HF importer builds for the same architecture: same node ids, same weight names and layouts.
import { SnnError } from '../../errors/index.js';
import { GraphBuilder } from '../../ir/builder.js';
import { ATTENTION_MASK, INPUT_IDS, LOGITS, POSITION_IDS, modelInputs, modelOutputs, pastKey, pastValue, presentKey, presentValue } from '../../ir/io.js';
import type { Graph, ModelSpec, Weight } from '../../ir/types.js';
import { geluAttrs } from '../../ops/activation.js';
import type { Const, Lifted } from '../../ops/lift.js';
import type { Gpt2ConfigT, LlamaConfigT, Qwen2ConfigT } from '../hf/config.js';

/** Finds lifted ops by the values they read and write, and fails with what was expected where. */
export class Walk {
  private readonly readers = new Map<string, Lifted[]>();
  constructor(readonly ops: readonly Lifted[], private readonly at: string) {
    for (const op of ops) for (const i of op.inputs) this.readers.set(i, [...(this.readers.get(i) ?? []), op]);
  }
  all(value: string, op: string): Lifted[] { return (this.readers.get(value) ?? []).filter((l) => l.op === op); }
  next(value: string, op: string, what: string): Lifted {
    const found = this.all(value, op);
    if (found.length !== 1) throw this.fail(`expected one ${what} (${op}) reading "${value}", found ${found.length}`);
    return found[0]!;
  }
  /** The Add that sums `a` and `b` (either order). */
  sum(a: string, b: string, what: string): Lifted {
    const add = this.all(a, 'Add').find((l) => l.inputs.includes(b));
    if (!add) throw this.fail(`expected the ${what} Add of "${a}" and "${b}"`);
    return add;
  }
  producing(value: string, op: string, what: string): Lifted {
    const l = this.ops.find((o) => o.op === op && o.outputs.includes(value));
    if (!l) throw this.fail(`expected a ${what} (${op}) producing "${value}"`);
    return l;
  }
  fail(message: string): SnnError {
    return new SnnError('ONNX_NOT_LIFTABLE', { message: `the lifted graph is not the expected architecture: ${message}`, at: this.at });
  }
}

/** Collects IR weights as in-memory data, checking each shape. */
export class Weights {
  readonly map = new Map<string, Weight>();
  constructor(private readonly walk: Walk) {}
  add(name: string, c: Const | undefined, shape: readonly number[], transpose = false): string {
    if (!c) throw this.walk.fail(`weight ${name} is missing`);
    const data = transpose ? transpose2d(c) : c.data instanceof Float32Array ? c.data : Float32Array.from(c.data);
    const dims = transpose ? [c.dims[1]!, c.dims[0]!] : c.dims;
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n || (dims.length === shape.length && dims.some((d, i) => d !== shape[i]))) {
      throw this.walk.fail(`weight ${name} is [${dims.join(', ')}], the config implies [${shape.join(', ')}]`);
    }
    this.map.set(name, { name, shape: [...shape], source: { kind: 'data', data } });
    return name;
  }
}

function transpose2d(c: Const): Float32Array {
  const [r, k] = [c.dims[0]!, c.dims[1]!];
  const out = new Float32Array(r * k);
  for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) out[j * r + i] = c.data[i * k + j]!;
  return out;
}

/** A Linear's weight as [in, out] (`inOut`) or [out, in]: transposed when the lifted layout differs. */
export function linearWeight(w: Weights, name: string, l: Lifted, inF: number, outF: number, layout: 'inOut' | 'outIn'): string {
  const liftedOutIn = l.attrs['transposed'] === true;
  const want = layout === 'outIn';
  return w.add(name, l.weights['weight'], want ? [outF, inF] : [inF, outF], liftedOutIn !== want);
}

/**
 * The config's value when the graph's constant is that value rounded to float32, or to float16 / bfloat16
 * (an fp16 or bf16 export stores eps in half precision: 1e-5 becomes 1.0014e-5); else the graph's.
 */
export const sameF32 = (fromGraph: unknown, fromConfig: number): number =>
  typeof fromGraph === 'number' && [Math.fround(fromConfig), roundMantissa(fromConfig, 10, -14), roundMantissa(fromConfig, 7, -126)].includes(Math.fround(fromGraph)) ? fromConfig : (fromGraph as number);

/** `x` rounded to a float with `bits` mantissa bits and smallest normal exponent `minExp` (float16: 10, −14; bfloat16: 7, −126). */
function roundMantissa(x: number, bits: number, minExp: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const quantum = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(x))), minExp) - bits);
  return Math.fround(Math.round(x / quantum) * quantum);
}

export function checkAttention(walk: Walk, a: Lifted, spec: ModelSpec, ropeTheta: number | null, layer: number): void {
  const got = a.attrs;
  const problems: string[] = [];
  if (got['numHeads'] !== spec.numHeads) problems.push(`${String(got['numHeads'])} heads, config ${spec.numHeads}`);
  if (got['numKvHeads'] !== spec.numKvHeads) problems.push(`${String(got['numKvHeads'])} KV heads, config ${spec.numKvHeads}`);
  if (got['headDim'] !== spec.headDim) problems.push(`head size ${String(got['headDim'])}, config ${spec.headDim}`);
  const theta = got['ropeTheta'];
  if ((theta === null) !== (ropeTheta === null)) problems.push(theta === null ? 'no RoPE, but the config is a RoPE model' : 'RoPE, but the config has none');
  else if (typeof theta === 'number' && ropeTheta !== null && Math.abs(theta / ropeTheta - 1) > (Number(got['ropeThetaTolerance']) || 1e-3)) problems.push(`RoPE base ${theta.toPrecision(6)}, config ${ropeTheta}`);
  if (problems.length) throw walk.fail(`layer ${layer} attention has ${problems.join(', ')}`);
}

/** The LM head: tied when its weight is exactly the embedding table transposed, else `lm_head.weight`. */
export function addHead(g: GraphBuilder, w: Weights, walk: Walk, final: string, spec: ModelSpec, embed: string): void {
  const head = walk.producing(LOGITS, 'Linear', 'LM head');
  const D = spec.hiddenSize, V = spec.vocabSize;
  const probe = new Weights(walk);
  const vd = probe.map.get(linearWeight(probe, 'probe', head, D, V, 'outIn'))!;
  const table = w.map.get(embed)!;
  const tied = vd.source.kind === 'data' && table.source.kind === 'data' && vd.source.data.every((x, i) => x === (table.source as { data: Float32Array }).data[i]);
  const weight = tied ? embed : linearWeight(w, 'lm_head.weight', head, D, V, 'outIn');
  g.op('Linear', 'lm_head', [final], { attrs: { inFeatures: D, outFeatures: V, transposed: true }, weights: { weight }, outputs: [LOGITS] });
}

export function findEmbedding(walk: Walk, input: string, what: string): Lifted {
  const e = walk.ops.find((l) => l.op === 'Embedding' && l.inputs[0] === input);
  if (!e) throw walk.fail(`expected the ${what} embedding (a Gather from a table by ${input})`);
  return e;
}

export function assembleGpt2(ops: readonly Lifted[], config: Gpt2ConfigT, spec: ModelSpec, at: string): Graph {
  const walk = new Walk(ops, at);
  const w = new Weights(walk);
  const g = new GraphBuilder(spec);
  const D = spec.hiddenSize;
  const inner = config.n_inner ?? 4 * D;
  const ln = (src: Lifted, id: string, x: string): string => g.op('LayerNorm', id, [x], {
    attrs: { eps: sameF32(src.attrs['eps'], config.layer_norm_epsilon) },
    weights: { weight: w.add(`${id}.weight`, src.weights['weight'], [D]), bias: w.add(`${id}.bias`, src.weights['bias'], [D]) },
  });
  const conv1d = (src: Lifted, id: string, x: string, inF: number, outF: number): string => g.op('Linear', id, [x], {
    attrs: { inFeatures: inF, outFeatures: outF, transposed: false },
    weights: { weight: linearWeight(w, `${id}.weight`, src, inF, outF, 'inOut'), bias: w.add(`${id}.bias`, src.weights['bias'], [outF]) },
  });

  const wteL = findEmbedding(walk, INPUT_IDS, 'token');
  const wpeL = findEmbedding(walk, POSITION_IDS, 'position');
  const wte = w.add('wte.weight', wteL.weights['table'], [spec.vocabSize, D]);
  const tok = g.op('Embedding', 'wte', [INPUT_IDS], { weights: { table: wte } });
  const pos = g.op('Embedding', 'wpe', [POSITION_IDS], { weights: { table: w.add('wpe.weight', wpeL.weights['table'], [spec.maxPositions, D]) } });
  let src = walk.sum(wteL.outputs[0]!, wpeL.outputs[0]!, 'embeddings').outputs[0]!;
  let h = g.op('Add', 'embed', [tok, pos]);
  for (let i = 0; i < spec.numLayers; i++) {
    const at = `h.${i}`;
    const ln1 = walk.next(src, 'LayerNorm', `layer ${i} ln_1`);
    const cAttn = walk.next(ln1.outputs[0]!, 'Linear', `layer ${i} c_attn`);
    const split = walk.next(cAttn.outputs[0]!, 'Split', `layer ${i} Q/K/V split`);
    const attn = walk.next(split.outputs[0]!, 'Attention', `layer ${i} attention`);
    if (attn.inputs[1] !== split.outputs[1] || attn.inputs[2] !== split.outputs[2]) throw walk.fail(`layer ${i}: the attention does not take Q, K, V in the split's order`);
    checkAttention(walk, attn, spec, null, i);
    const qkv = conv1d(cAttn, `${at}.attn.c_attn`, ln(ln1, `${at}.ln_1`, h), D, 3 * D);
    const [q, k, v] = g.add('Split', `${at}.attn.split`, [qkv], { attrs: { sizes: [D, D, D] }, outputs: [`${at}.attn.q`, `${at}.attn.k`, `${at}.attn.v`] });
    const [a] = g.add('Attention', `${at}.attn`, [q!, k!, v!, ATTENTION_MASK, POSITION_IDS, pastKey(i), pastValue(i)], {
      attrs: { numHeads: spec.numHeads, numKvHeads: spec.numKvHeads, headDim: spec.headDim, ropeTheta: null },
      outputs: [`${at}.attn.out`, presentKey(i), presentValue(i)],
    });
    const cProj = walk.next(attn.outputs[0]!, 'Linear', `layer ${i} attention c_proj`);
    const res1 = walk.sum(src, cProj.outputs[0]!, `layer ${i} attention residual`);
    h = g.op('Add', `${at}.residual_1`, [h, conv1d(cProj, `${at}.attn.c_proj`, a!, D, D)]);
    const ln2 = walk.next(res1.outputs[0]!, 'LayerNorm', `layer ${i} ln_2`);
    const fc = walk.next(ln2.outputs[0]!, 'Linear', `layer ${i} c_fc`);
    const fcOut = conv1d(fc, `${at}.mlp.c_fc`, ln(ln2, `${at}.ln_2`, h), D, inner);
    const actL = [...walk.all(fc.outputs[0]!, 'Gelu'), ...walk.all(fc.outputs[0]!, 'Relu')][0];
    if (!actL) throw walk.fail(`layer ${i}: expected GELU or ReLU after c_fc`);
    const act = actL.op === 'Relu' ? g.op('Relu', `${at}.mlp.act`, [fcOut]) : g.op('Gelu', `${at}.mlp.act`, [fcOut], { attrs: { ...geluAttrs(actL) } });
    const proj = walk.next(actL.outputs[0]!, 'Linear', `layer ${i} mlp c_proj`);
    src = walk.sum(res1.outputs[0]!, proj.outputs[0]!, `layer ${i} MLP residual`).outputs[0]!;
    h = g.op('Add', `${at}.residual_2`, [h, conv1d(proj, `${at}.mlp.c_proj`, act, inner, D)]);
  }
  const lnf = walk.next(src, 'LayerNorm', 'ln_f');
  addHead(g, w, walk, ln(lnf, 'ln_f', h), spec, wte);
  for (const weight of w.map.values()) g.addWeight(weight);
  return g.build(modelInputs(spec), modelOutputs(spec));
}

export function assembleLlama(ops: readonly Lifted[], config: LlamaConfigT | Qwen2ConfigT, spec: ModelSpec, at: string): Graph {
  const walk = new Walk(ops, at);
  const w = new Weights(walk);
  const g = new GraphBuilder(spec);
  const D = spec.hiddenSize, I = config.intermediate_size;
  const qD = spec.numHeads * spec.headDim, kvD = spec.numKvHeads * spec.headDim;
  const rms = (src: Lifted, id: string, x: string): string => g.op('RMSNorm', id, [x], {
    attrs: { eps: sameF32(src.attrs['eps'], config.rms_norm_eps) }, weights: { weight: w.add(`${id}.weight`, src.weights['weight'], [D]) },
  });
  const linear = (src: Lifted, id: string, x: string, inF: number, outF: number): string => g.op('Linear', id, [x], {
    attrs: { inFeatures: inF, outFeatures: outF, transposed: true },
    weights: { weight: linearWeight(w, `${id}.weight`, src, inF, outF, 'outIn'), ...(src.weights['bias'] ? { bias: w.add(`${id}.bias`, src.weights['bias'], [outF]) } : {}) },
  });

  const embL = findEmbedding(walk, INPUT_IDS, 'token');
  const embed = w.add('embed_tokens.weight', embL.weights['table'], [spec.vocabSize, D]);
  let h = g.op('Embedding', 'embed_tokens', [INPUT_IDS], { weights: { table: embed } });
  let src = embL.outputs[0]!;
  for (let i = 0; i < spec.numLayers; i++) {
    const at = `layers.${i}`;
    const n1 = walk.next(src, 'RMSNorm', `layer ${i} input_layernorm`);
    const projs = walk.all(n1.outputs[0]!, 'Linear');
    const attn = walk.all(projs[0]?.outputs[0] ?? '', 'Attention')[0];
    if (projs.length !== 3 || !attn) throw walk.fail(`layer ${i}: expected Q, K, V projections of input_layernorm feeding one attention`);
    const [qL, kL, vL] = [0, 1, 2].map((k) => projs.find((p) => p.outputs[0] === attn.inputs[k]) ?? (() => { throw walk.fail(`layer ${i}: attention input ${k} is not a projection of input_layernorm`); })());
    checkAttention(walk, attn, spec, config.rope_theta, i);
    const x = rms(n1, `${at}.input_layernorm`, h);
    const q = linear(qL!, `${at}.self_attn.q_proj`, x, D, qD);
    const k = linear(kL!, `${at}.self_attn.k_proj`, x, D, kvD);
    const v = linear(vL!, `${at}.self_attn.v_proj`, x, D, kvD);
    const [a] = g.add('Attention', `${at}.self_attn`, [q, k, v, ATTENTION_MASK, POSITION_IDS, pastKey(i), pastValue(i)], {
      attrs: { numHeads: spec.numHeads, numKvHeads: spec.numKvHeads, headDim: spec.headDim, ropeTheta: config.rope_theta },
      outputs: [`${at}.self_attn.out`, presentKey(i), presentValue(i)],
    });
    const oL = walk.next(attn.outputs[0]!, 'Linear', `layer ${i} o_proj`);
    const res1 = walk.sum(src, oL.outputs[0]!, `layer ${i} attention residual`);
    h = g.op('Add', `${at}.residual_1`, [h, linear(oL, `${at}.self_attn.o_proj`, a!, qD, D)]);
    const n2 = walk.next(res1.outputs[0]!, 'RMSNorm', `layer ${i} post_attention_layernorm`);
    const mlp = walk.all(n2.outputs[0]!, 'Linear');
    const gateL = mlp.find((l) => walk.all(l.outputs[0]!, 'Silu').length === 1);
    const upL = mlp.find((l) => l !== gateL);
    if (mlp.length !== 2 || !gateL || !upL) throw walk.fail(`layer ${i}: expected gate (→ SiLU) and up projections of post_attention_layernorm`);
    const siluL = walk.next(gateL.outputs[0]!, 'Silu', `layer ${i} SiLU`);
    const mulL = walk.all(siluL.outputs[0]!, 'Mul').find((m) => m.inputs.includes(upL.outputs[0]!));
    if (!mulL) throw walk.fail(`layer ${i}: expected SiLU(gate) · up`);
    const downL = walk.next(mulL.outputs[0]!, 'Linear', `layer ${i} down_proj`);
    const y = rms(n2, `${at}.post_attention_layernorm`, h);
    const gate = g.op('Silu', `${at}.mlp.act`, [linear(gateL, `${at}.mlp.gate_proj`, y, D, I)]);
    const up = linear(upL, `${at}.mlp.up_proj`, y, D, I);
    const prod = g.op('Mul', `${at}.mlp.gate_mul`, [gate, up]);
    src = walk.sum(res1.outputs[0]!, downL.outputs[0]!, `layer ${i} MLP residual`).outputs[0]!;
    h = g.op('Add', `${at}.residual_2`, [h, linear(downL, `${at}.mlp.down_proj`, prod, I, D)]);
  }
  const nf = walk.next(src, 'RMSNorm', 'final norm');
  addHead(g, w, walk, rms(nf, 'norm', h), spec, embed);
  for (const weight of w.map.values()) g.addWeight(weight);
  return g.build(modelInputs(spec), modelOutputs(spec));
}
