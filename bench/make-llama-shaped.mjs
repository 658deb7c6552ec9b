// Writes a Llama-shaped LlamaForCausalLM folder for scale benchmarks: a real config (optionally resized), its tokenizer, seeded random weights.
//
//   npm run build && node bench/make-llama-shaped.mjs OUT [--config DIR] [--seed S] [--set key=value ...]
//
// DIR defaults to fixtures/smollm2-135m-instruct-config-tokenizer (SmolLM2-135M's real config).
// --set overrides config keys, e.g. a Qwen2.5-1.5B-sized stand-in on the Llama family:
//   --set hidden_size=1536 --set num_hidden_layers=28 --set num_attention_heads=12 --set num_key_value_heads=2
//   --set intermediate_size=8960 --set vocab_size=151936 --set max_position_embeddings=32768
// Weights: N(0, initializer_range²) for matrices and the embedding, norms 1; each tensor from its own PRNG
// stream seeded by (seed, name), produced one at a time as it is written. Never committed: generated at bench time.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensors } from '../dist/weights/safetensors.js';
import { mulberry32 } from '../dist/util/random.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const COPIED = ['generation_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'];

function parseArgs(argv) {
  const o = { out: null, config: join(ROOT, 'fixtures', 'smollm2-135m-instruct-config-tokenizer'), seed: 0, set: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config') o.config = argv[++i];
    else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--set') { const [k, v] = argv[++i].split('='); o.set[k] = Number.isNaN(Number(v)) ? v : Number(v); }
    else if (a.startsWith('-')) { console.error(`unknown option ${a}`); process.exit(2); }
    else o.out = a;
  }
  if (!o.out) { console.error('usage: node bench/make-llama-shaped.mjs OUT [--config DIR] [--seed S] [--set key=value ...]'); process.exit(2); }
  return o;
}

function tensorSpecs(c) {
  const d = c.hidden_size, kv = (c.num_key_value_heads ?? c.num_attention_heads) * (d / c.num_attention_heads), f = c.intermediate_size;
  const specs = [{ name: 'model.embed_tokens.weight', shape: [c.vocab_size, d], init: 'normal' }];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [d], init: 'ones' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [d, d], init: 'normal' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, d], init: 'normal' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, d], init: 'normal' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [d, d], init: 'normal' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [d], init: 'ones' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [f, d], init: 'normal' },
      { name: `${p}.mlp.up_proj.weight`, shape: [f, d], init: 'normal' },
      { name: `${p}.mlp.down_proj.weight`, shape: [d, f], init: 'normal' },
    );
  }
  specs.push({ name: 'model.norm.weight', shape: [d], init: 'ones' });
  if (!c.tie_word_embeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocab_size, d], init: 'normal' });
  return specs;
}

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(text, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function normals(count, std, seed) {
  const u = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(1 - u()));
    const a = 2 * Math.PI * u();
    out[i] = r * Math.cos(a);
    if (i + 1 < count) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

const o = parseArgs(process.argv.slice(2));
const config = { ...JSON.parse(readFileSync(join(o.config, 'config.json'), 'utf8')), ...o.set };
const std = config.initializer_range ?? 0.02;
const started = Date.now();
mkdirSync(o.out, { recursive: true });
for (const f of COPIED) copyFileSync(join(o.config, f), join(o.out, f));
writeFileSync(join(o.out, 'config.json'), JSON.stringify(config, null, 2));
const specs = tensorSpecs(config);
const entries = specs.map((s) => {
  const n = s.shape.reduce((a, b) => a * b, 1);
  return { name: s.name, shape: s.shape, data: () => (s.init === 'normal' ? normals(n, std, fnv1a(`${o.seed}:${s.name}`)) : new Float32Array(n).fill(1)) };
});
writeSafetensors(join(o.out, 'model.safetensors'), entries, { format: 'pt' });
const params = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
console.log(`wrote ${o.out}: ${specs.length} tensors, ${(params / 1e6).toFixed(1)} M parameters, ${(params * 4 / 1e6).toFixed(1)} MB fp32, seed ${o.seed}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
