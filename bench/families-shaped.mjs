// Real configs of facebook/opt-125m and Qwen/Qwen2.5-0.5B with seeded random weights: import and convert size and speed.
//
//   npm run build && nice node bench/families-shaped.mjs [opt|qwen2|qwen2-1.5b ...] [--out DIR] [--write-only]
//
// --write-only writes the model folders and stops (for bench/scale.mjs; Qwen2.5-1.5B's 6.2 GB of weights
// are generated in memory first, so writing it takes ~7 GB).
//
// Weights: N(0, 0.02) for matrices and embeddings, norm weights 1, biases 0, each tensor from its own
// PRNG stream. The tokenizer is a stand-in (these folders have no real tokenizer here): GPT-2's BPE for
// OPT (OPT uses GPT-2's vocabulary), the byte-level one of the fixtures for Qwen2.5 (ids < 257 only).
// Not a fidelity measurement: random weights say nothing about spiking accuracy.
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { convert } from '../dist/convert.js';
import { importHfModel } from '../dist/import/hf/index.js';
import { mulberry32 } from '../dist/util/random.js';
import { writeSafetensors } from '../dist/weights/safetensors.js';

const ROOT = join(import.meta.dirname, '..');
const CONFIGS = { opt: 'opt-125m.config.json', qwen2: 'qwen2.5-0.5b.config.json', 'qwen2-1.5b': 'qwen2.5-1.5b.config.json' };
const TOKENIZERS = { opt: join(ROOT, 'fixtures', 'distilgpt2-config-tokenizer'), qwen2: join(ROOT, 'fixtures', 'qwen2-dialogue'), 'qwen2-1.5b': join(ROOT, 'fixtures', 'qwen2-dialogue') };

function tensorsOf(family, c) {
  const t = [];
  const norm = (name, bias) => { t.push([`${name}.weight`, [c.hidden_size], 'ones']); if (bias) t.push([`${name}.bias`, [c.hidden_size], 'zeros']); };
  const linear = (name, outF, inF, bias) => { t.push([`${name}.weight`, [outF, inF], 'normal']); if (bias) t.push([`${name}.bias`, [outF], 'zeros']); };
  const D = c.hidden_size;
  if (family === 'opt') {
    const p = 'model.decoder';
    t.push([`${p}.embed_tokens.weight`, [c.vocab_size, D], 'normal'], [`${p}.embed_positions.weight`, [c.max_position_embeddings + 2, D], 'normal']);
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const l = `${p}.layers.${i}`;
      for (const x of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${l}.self_attn.${x}`, D, D, true);
      norm(`${l}.self_attn_layer_norm`, true);
      linear(`${l}.fc1`, c.ffn_dim, D, true);
      linear(`${l}.fc2`, D, c.ffn_dim, true);
      norm(`${l}.final_layer_norm`, true);
    }
    norm(`${p}.final_layer_norm`, true);
    return t;
  }
  const hd = D / c.num_attention_heads, kv = c.num_key_value_heads * hd;
  t.push(['model.embed_tokens.weight', [c.vocab_size, D], 'normal']);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const l = `model.layers.${i}`;
    linear(`${l}.self_attn.q_proj`, D, D, true);
    linear(`${l}.self_attn.k_proj`, kv, D, true);
    linear(`${l}.self_attn.v_proj`, kv, D, true);
    linear(`${l}.self_attn.o_proj`, D, D, false);
    for (const x of ['gate_proj', 'up_proj']) linear(`${l}.mlp.${x}`, c.intermediate_size, D, false);
    linear(`${l}.mlp.down_proj`, D, c.intermediate_size, false);
    norm(`${l}.input_layernorm`, false);
    norm(`${l}.post_attention_layernorm`, false);
  }
  norm('model.norm', false);
  return t;
}

function entry([name, shape, init], k) {
  const count = shape.reduce((a, b) => a * b, 1);
  const data = () => {
    if (init !== 'normal') return new Float32Array(count).fill(init === 'ones' ? 1 : 0);
    const u = mulberry32(1000 + k);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = 0.02 * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
    return out;
  };
  return { name, shape, data };
}

const args = process.argv.slice(2);
const families = args.filter((a) => a in CONFIGS);
const outRoot = args.includes('--out') ? args[args.indexOf('--out') + 1] : '/tmp/families-shaped';
for (const family of families.length ? families : ['opt', 'qwen2']) {
  const dir = join(outRoot, family);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, 'fixtures', 'real-configs', CONFIGS[family]), join(dir, 'config.json'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZERS[family], f), join(dir, f));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  let t0 = Date.now();
  writeSafetensors(join(dir, 'model.safetensors'), tensorsOf(family, config).map((s, k) => entry(s, k)), { format: 'pt' });
  const bytes = statSync(join(dir, 'model.safetensors')).size;
  const written = (Date.now() - t0) / 1000;
  if (args.includes('--write-only')) { console.log(JSON.stringify({ family, dir, weightsMiB: +(bytes / 2 ** 20).toFixed(1), writeS: written })); continue; }
  t0 = Date.now();
  const g = importHfModel(dir).graph;
  const imported = (Date.now() - t0) / 1000;
  t0 = Date.now();
  const summary = await convert(dir, { out: join(outRoot, `${family}.snn`), force: true, calibration: { samples: 8, length: 64 } });
  const converted = (Date.now() - t0) / 1000;
  const params = [...g.weights.values()].reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
  console.log(JSON.stringify({ family, config: CONFIGS[family], params, weightsMiB: +(bytes / 2 ** 20).toFixed(1), writeS: written, importS: imported, nodes: g.nodes.length, convertS: converted, neuronSites: summary.neuronSites, timesteps: summary.timesteps, peakRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(0) }));
}
