// Tiny seeded GPT-2 and Llama checkpoints (vocab 11, width 8, 2 layers) imported by the real HF importer, and a runner.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importHfModel } from '../../src/import/hf/index.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';
import type { Graph } from '../../src/ir/types.js';
import { type StepOutput } from '../../src/runtime/session.js';
import { openGraphSession } from '../../src/open/graph-session.js';
import { normals } from './onnx-run.js';

export const VOCAB = 11;
export const WIDTH = 8;
export const LAYERS = 2;

type Init = 'normal' | 'ones' | 'bias';

/** Large enough weights that every activation matters (N(0, 0.02) would make a width-8 model nearly constant). */
function init(kind: Init, n: number, seed: number): Float32Array {
  if (kind === 'ones') return normals(n, seed, 0.1, 1);
  if (kind === 'bias') return normals(n, seed, 0.1);
  return normals(n, seed, 0.45);
}

function writeCheckpoint(dir: string, config: object, tensors: readonly (readonly [string, readonly number[], Init])[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeSafetensors(join(dir, 'model.safetensors'), tensors.map(([name, shape, kind], i) => ({
    name, shape, data: () => init(kind, shape.reduce((a, b) => a * b, 1), 1000 + i),
  })));
}

/** GPT2LMHeadModel: 2 heads of 4, gelu_new, tied head. */
export function tinyGpt2(root: string): Graph {
  const dir = join(root, 'tiny-gpt2');
  const D = WIDTH;
  const tensors: [string, number[], Init][] = [['transformer.wte.weight', [VOCAB, D], 'normal'], ['transformer.wpe.weight', [16, D], 'normal']];
  for (let i = 0; i < LAYERS; i++) {
    const at = `transformer.h.${i}`;
    tensors.push(
      [`${at}.ln_1.weight`, [D], 'ones'], [`${at}.ln_1.bias`, [D], 'bias'],
      [`${at}.attn.c_attn.weight`, [D, 3 * D], 'normal'], [`${at}.attn.c_attn.bias`, [3 * D], 'bias'],
      [`${at}.attn.c_proj.weight`, [D, D], 'normal'], [`${at}.attn.c_proj.bias`, [D], 'bias'],
      [`${at}.ln_2.weight`, [D], 'ones'], [`${at}.ln_2.bias`, [D], 'bias'],
      [`${at}.mlp.c_fc.weight`, [D, 4 * D], 'normal'], [`${at}.mlp.c_fc.bias`, [4 * D], 'bias'],
      [`${at}.mlp.c_proj.weight`, [4 * D, D], 'normal'], [`${at}.mlp.c_proj.bias`, [D], 'bias'],
    );
  }
  tensors.push(['transformer.ln_f.weight', [D], 'ones'], ['transformer.ln_f.bias', [D], 'bias']);
  writeCheckpoint(dir, {
    model_type: 'gpt2', vocab_size: VOCAB, n_embd: D, n_layer: LAYERS, n_head: 2, n_positions: 16,
    activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, bos_token_id: 0, eos_token_id: 0,
  }, tensors);
  return importHfModel(dir).graph;
}

/** LlamaForCausalLM: 2 query heads on 1 KV head (GQA) of 4, RoPE, SwiGLU, untied head. */
export function tinyLlama(root: string): Graph {
  const dir = join(root, 'tiny-llama');
  const D = WIDTH;
  const I = 16;
  const hd = 4;
  const tensors: [string, number[], Init][] = [['model.embed_tokens.weight', [VOCAB, D], 'normal']];
  for (let i = 0; i < LAYERS; i++) {
    const at = `model.layers.${i}`;
    tensors.push(
      [`${at}.input_layernorm.weight`, [D], 'ones'],
      [`${at}.self_attn.q_proj.weight`, [2 * hd, D], 'normal'], [`${at}.self_attn.k_proj.weight`, [hd, D], 'normal'],
      [`${at}.self_attn.v_proj.weight`, [hd, D], 'normal'], [`${at}.self_attn.o_proj.weight`, [D, 2 * hd], 'normal'],
      [`${at}.post_attention_layernorm.weight`, [D], 'ones'],
      [`${at}.mlp.gate_proj.weight`, [I, D], 'normal'], [`${at}.mlp.up_proj.weight`, [I, D], 'normal'], [`${at}.mlp.down_proj.weight`, [D, I], 'normal'],
    );
  }
  tensors.push(['model.norm.weight', [D], 'ones'], ['lm_head.weight', [VOCAB, D], 'normal']);
  writeCheckpoint(dir, {
    model_type: 'llama', vocab_size: VOCAB, hidden_size: D, intermediate_size: I, num_hidden_layers: LAYERS,
    num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 16, rms_norm_eps: 1e-6, rope_theta: 10000,
    tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  }, tensors);
  return importHfModel(dir).graph;
}

export interface Batch {
  /** Token ids per row (all rows the same length). */
  readonly ids: readonly (readonly number[])[];
  /** Per row, 0 where a (past or new) slot is padding; default all 1. */
  readonly mask?: readonly (readonly number[])[];
  /** Cached tokens per row and their K/V per layer (from a previous run's `present`). */
  readonly past?: { readonly length: number; readonly cache: readonly Float32Array[] };
}

/** One forward call through the runtime's session (ANN or spiking), positions continuing after the past. */
export async function runModel(graph: Graph, mode: 'ann' | 'snn', batch: Batch, opts: { exposeSpikes?: boolean } = {}): Promise<StepOutput & { spikeNames: readonly string[] }> {
  const session = await openGraphSession(graph, mode, { exposeSpikes: opts.exposeSpikes ?? false });
  try {
    const B = batch.ids.length;
    const S = batch.ids[0]!.length;
    const P = batch.past?.length ?? 0;
    const mask = batch.mask ?? batch.ids.map(() => new Array<number>(P + S).fill(1));
    const out = await session.run({
      batch: B, seq: S, past: P,
      ids: BigInt64Array.from(batch.ids.flat().map(BigInt)),
      mask: BigInt64Array.from(mask.flat().map(BigInt)),
      positions: BigInt64Array.from(batch.ids.flatMap((row) => row.map((_, j) => BigInt(P + j)))),
      cache: batch.past?.cache ?? [],
    }, session.extraOutputs);
    return { ...out, spikeNames: session.extraOutputs.filter((n) => n.startsWith('spikes/')) };
  } finally {
    await session.release();
  }
}
