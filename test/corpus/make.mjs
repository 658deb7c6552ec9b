#!/usr/bin/env node
// The malformed-input corpus: writes every case (inputs + how to run it by CLI and by API) under one folder.
// Run alone: `node test/corpus/make.mjs OUT_DIR` writes OUT_DIR/<case>/ and OUT_DIR/manifest.json.
// Pure Node, independent of src/: inputs are made from the fixtures byte by byte.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GPT2 = join(ROOT, 'fixtures', 'shakespeare-gpt2');
const LLAMA = join(ROOT, 'fixtures', 'shakespeare-llama');
const SMOL = join(ROOT, 'fixtures', 'smollm2-135m-instruct-config-tokenizer');
const CLI = join(ROOT, 'bin', 'snnconvert.js');

/**
 * @typedef {{ fn: string, args: unknown[] }} ApiCall
 * @typedef {{ id: string, group: string, what: string, dir: string, cli: string[], stdin?: string, api: ApiCall, expect: string[], out?: string }} CorpusCase
 */

/** Writes the corpus under `root` and returns its cases; `bundle` is a valid bundle to tamper with (made when absent). */
export function makeCorpus(root, opts = {}) {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const base = join(root, '_base');
  mkdirSync(base);
  const bundle = opts.bundle ?? makeBaseBundle(join(base, 'base.snn'));
  /** @type {CorpusCase[]} */
  const cases = [];
  const ctx = { root, bundle, cases };
  hfConfigCases(ctx);
  safetensorsCases(ctx);
  shardCases(ctx);
  tokenizerCases(ctx);
  onnxCases(ctx);
  bundleCases(ctx);
  promptCases(ctx);
  textCases(ctx);
  flagCases(ctx);
  for (const c of cases) if (MESSAGES[c.id]) c.message = MESSAGES[c.id];
  writeFileSync(join(root, 'manifest.json'), JSON.stringify(cases, null, 1));
  return cases;
}

/** What the one line must say for some cases (what was wrong), beyond the code. */
const MESSAGES = {
  'bundle-meta-newer-version': 'format version 4; this snnconvert reads versions 2 to 3',
  'bundle-symlink-out': 'tokenizer.json is a symbolic link',
  'bundle-meta-traversal': 'which is outside the bundle',
  'bundle-graph-weight-shape-rehashed': 'weights.safetensors holds',
  'st-header-over-limit': 'over 100 MB',
  'st-shape-overflow': 'the product overflows',
  'st-offsets-beyond-file': 'the file is truncated',
  'gpt2-vocab-huge': 'would exhaust memory',
  'llama-positions-huge': 'would exhaust memory',
  'index-traversal': 'points outside the model folder',
  'prompt-file-invalid-utf8': 'not valid UTF-8 (first bad byte at offset 2)',
  'calib-nul': 'NUL byte at offset 0',
  'chat-template-huge-loop': 'over the limit of 100000 elements',
  'calib-length-beyond-context': "longer than the model's context of 128 tokens",
};

function makeBaseBundle(out) {
  const r = spawnSync(process.execPath, [CLI, GPT2, '-t', '2', '--calib-samples', '2', '--calib-length', '16', '--no-report', '-q', '-o', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`corpus: the base bundle could not be made: ${r.stderr}`);
  return out;
}

// ── helpers ────────────────────────────────────────────────────────────────────────────────────

let counter = 0;

/** A new case folder holding a copy (hard links) of `from`, if given. */
function caseDir(ctx, id, from) {
  const dir = join(ctx.root, `${String(++counter).padStart(3, '0')}-${id}`);
  mkdirSync(dir);
  if (from) linkTree(from, join(dir, from.endsWith('.snn') ? 'model.snn' : 'model'));
  return dir;
}

function linkTree(from, to) {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    if (statSync(src).isDirectory()) linkTree(src, dst);
    else try { linkSync(src, dst); } catch { copyFileSync(src, dst); }
  }
}

/** Replaces a file (never writes through a hard link). */
function put(path, content) {
  rmSync(path, { force: true, recursive: true });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

function edit(path, fn) {
  const next = fn(readFileSync(path));
  put(path, next);
}

function editJson(path, fn) {
  const json = JSON.parse(readFileSync(path, 'utf8'));
  const next = fn(json) ?? json;
  put(path, typeof next === 'string' ? next : JSON.stringify(next, null, 2));
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Recomputes meta.json's sha256 of `file`, so only the damage inside the file is left to find. */
function rehash(bundleDir, file) {
  editJson(join(bundleDir, 'meta.json'), (m) => { m.files[file] = sha256(join(bundleDir, file)); });
}

/** Seeded bytes (mulberry32), so the corpus is the same on every machine. */
function noise(n, seed) {
  let a = seed >>> 0;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

/** safetensors bytes from a header object and a data buffer (no checks: the point is to write bad ones). */
function safetensors(header, data = Buffer.alloc(0), lengthField) {
  const json = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(lengthField ?? json.length));
  return Buffer.concat([len, json, data]);
}

function readSt(path) {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')), data: buf.subarray(8 + n) };
}

function convertCase(ctx, dir, model, extra = []) {
  const out = join(dir, 'out.snn');
  return { cli: ['convert', model, '-o', out, '--offline', '-q', '--no-report', '-t', '2', '--calib-samples', '2', '--calib-length', '16', ...extra], out };
}

function apiConvert(model, out, opts = {}) {
  return { fn: 'convert', args: [model, { out, offline: true, timesteps: 2, calibration: { samples: 2, length: 16 }, ...opts }] };
}

function add(ctx, c) {
  ctx.cases.push(c);
}

/** A HF folder case: the GPT-2 (or Llama) fixture with one change, run through convert. */
function hfCase(ctx, group, id, what, expect, change, { from = GPT2, api = 'convert' } = {}) {
  const dir = caseDir(ctx, id, from);
  const model = join(dir, 'model');
  change(model, dir);
  const { cli, out } = convertCase(ctx, dir, model);
  const call = api === 'convert' ? apiConvert(model, out) : { fn: api, args: [model] };
  add(ctx, { id, group, what, dir, cli, api: call, expect, out });
}

// ── HF folder: config.json and generation_config.json ──────────────────────────────────────────

function hfConfigCases(ctx) {
  const cfg = (m) => join(m, 'config.json');
  const set = (patch) => (m) => editJson(cfg(m), (j) => ({ ...j, ...patch }));
  const drop = (key) => (m) => editJson(cfg(m), (j) => { delete j[key]; });
  const raw = (text) => (m) => put(cfg(m), text);
  const C = 'hf-config';
  hfCase(ctx, C, 'config-missing', 'config.json removed', ['CONFIG_MISSING', 'MODEL_NOT_FOUND'], (m) => rmSync(cfg(m)));
  hfCase(ctx, C, 'config-empty', 'empty config.json', ['CONFIG_INVALID'], raw(''));
  hfCase(ctx, C, 'config-garbage', 'config.json is random bytes', ['CONFIG_INVALID'], raw(noise(300, 1)));
  hfCase(ctx, C, 'config-truncated', 'config.json cut in half', ['CONFIG_INVALID'], (m) => edit(cfg(m), (b) => b.subarray(0, b.length >> 1)));
  hfCase(ctx, C, 'config-array', 'config.json is a JSON array', ['MODEL_TYPE_UNSUPPORTED', 'CONFIG_INVALID'], raw('[1, 2, 3]'));
  hfCase(ctx, C, 'config-null', 'config.json is null', ['MODEL_TYPE_UNSUPPORTED', 'CONFIG_INVALID'], raw('null'));
  hfCase(ctx, C, 'config-string', 'config.json is a JSON string', ['MODEL_TYPE_UNSUPPORTED', 'CONFIG_INVALID'], raw('"gpt2"'));
  hfCase(ctx, C, 'config-object-empty', 'config.json is {}', ['MODEL_TYPE_UNSUPPORTED'], raw('{}'));
  hfCase(ctx, C, 'config-invalid-utf8', 'config.json with invalid UTF-8 in a string', ['CONFIG_INVALID'], (m) => edit(cfg(m), (b) => Buffer.concat([b.subarray(0, b.length - 2), Buffer.from(',"x":"\xff\xfe"}', 'latin1')])));
  hfCase(ctx, C, 'config-bom-garbage', 'config.json: BOM followed by garbage', ['CONFIG_INVALID'], raw('\ufeff{{{'));
  hfCase(ctx, C, 'config-deep-nesting', 'config.json nested 100 000 deep', ['CONFIG_INVALID', 'MODEL_TYPE_UNSUPPORTED'], raw(`${'['.repeat(100_000)}${']'.repeat(100_000)}`));
  hfCase(ctx, C, 'model-type-missing', 'no model_type', ['MODEL_TYPE_UNSUPPORTED'], drop('model_type'));
  hfCase(ctx, C, 'model-type-bert', 'model_type bert', ['ARCH_UNSUPPORTED'], set({ model_type: 'bert' }));
  hfCase(ctx, C, 'model-type-number', 'model_type 42', ['MODEL_TYPE_UNSUPPORTED'], set({ model_type: 42 }));
  hfCase(ctx, C, 'model-type-proto', 'model_type __proto__', ['ARCH_UNSUPPORTED'], set({ model_type: '__proto__' }));
  const bad = [
    ['vocab-zero', { vocab_size: 0 }, 'CONFIG_INVALID'],
    ['vocab-negative', { vocab_size: -1 }, 'CONFIG_INVALID'],
    ['vocab-fraction', { vocab_size: 256.5 }, 'CONFIG_INVALID'],
    ['vocab-string', { vocab_size: '257' }, 'CONFIG_INVALID'],
    ['vocab-null', { vocab_size: null }, 'CONFIG_INVALID'],
    ['vocab-huge', { vocab_size: 1e12 }, 'CONFIG_INVALID'],
    ['vocab-too-small', { vocab_size: 100 }, 'TENSOR_SHAPE'],
    ['positions-huge', { n_positions: 2 ** 40 }, 'CONFIG_INVALID'],
    ['positions-mismatch', { n_positions: 64 }, 'TENSOR_SHAPE'],
    ['embd-indivisible', { n_embd: 130 }, 'CONFIG_INVALID'],
    ['embd-mismatch', { n_embd: 256 }, 'TENSOR_SHAPE'],
    ['embd-huge', { n_embd: 2 ** 31 }, 'CONFIG_INVALID'],
    ['layers-zero', { n_layer: 0 }, 'CONFIG_INVALID'],
    ['layers-more', { n_layer: 5 }, 'TENSOR_MISSING'],
    ['layers-huge', { n_layer: 1e7 }, 'CONFIG_INVALID'],
    ['heads-zero', { n_head: 0 }, 'CONFIG_INVALID'],
    ['heads-more-than-width', { n_head: 256 }, 'CONFIG_INVALID'],
    ['activation-unknown', { activation_function: 'swish' }, 'CONFIG_INVALID'],
    ['epsilon-negative', { layer_norm_epsilon: -1 }, 'CONFIG_INVALID'],
    ['scale-attn-false', { scale_attn_weights: false }, 'CONFIG_INVALID'],
    ['tie-string', { tie_word_embeddings: 'yes' }, 'CONFIG_INVALID'],
    ['positions-string', { n_positions: '128' }, 'CONFIG_INVALID'],
    ['n-inner-mismatch', { n_inner: 100 }, 'TENSOR_SHAPE'],
    ['eos-string', { eos_token_id: 'eos' }, 'CONFIG_INVALID'],
  ];
  for (const [id, patch, code] of bad) hfCase(ctx, C, `gpt2-${id}`, `gpt2 config ${JSON.stringify(patch)}`, [code], set(patch));
  const llama = [
    ['rope-scaling', { rope_scaling: { type: 'linear', factor: 2 } }, 'CONFIG_INVALID'],
    ['act-gelu', { hidden_act: 'gelu' }, 'CONFIG_INVALID'],
    ['kv-heads-indivisible', { num_key_value_heads: 3 }, 'CONFIG_INVALID'],
    ['kv-heads-more', { num_key_value_heads: 8 }, 'CONFIG_INVALID'],
    ['head-dim-mismatch', { head_dim: 16 }, 'TENSOR_SHAPE'],
    ['intermediate-mismatch', { intermediate_size: 100 }, 'TENSOR_SHAPE'],
    ['positions-huge', { max_position_embeddings: 2 ** 40 }, 'CONFIG_INVALID'],
    ['rms-eps-zero', { rms_norm_eps: 0 }, 'CONFIG_INVALID'],
    ['rope-theta-negative', { rope_theta: -1 }, 'CONFIG_INVALID'],
    ['vocab-huge', { vocab_size: 2 ** 40 }, 'CONFIG_INVALID'],
  ];
  for (const [id, patch, code] of llama) hfCase(ctx, C, `llama-${id}`, `llama config ${JSON.stringify(patch)}`, [code], set(patch), { from: LLAMA });
  const gen = (m) => join(m, 'generation_config.json');
  hfCase(ctx, C, 'generation-config-garbage', 'generation_config.json is not JSON', ['CONFIG_INVALID'], (m) => put(gen(m), '{"eos_token_id": '));
  hfCase(ctx, C, 'generation-config-bad-field', 'generation_config.json max_length -1', ['CONFIG_INVALID'], (m) => put(gen(m), '{"max_length": -1}'));
  hfCase(ctx, C, 'config-is-folder', 'config.json is a folder', ['CONFIG_INVALID', 'CONFIG_MISSING'], (m) => { rmSync(cfg(m)); mkdirSync(cfg(m)); });
}

// ── HF folder: model.safetensors header and body ───────────────────────────────────────────────

function safetensorsCases(ctx) {
  const S = 'safetensors';
  const st = (m) => join(m, 'model.safetensors');
  const { header: h0, data: d0 } = readSt(join(GPT2, 'model.safetensors'));
  const first = 'transformer.wte.weight';
  const withHeader = (fn) => (m) => { const h = structuredClone(h0); fn(h); put(st(m), safetensors(h, d0)); };
  const rawFile = (bytes) => (m) => put(st(m), bytes);
  const INV = ['SAFETENSORS_INVALID'];
  hfCase(ctx, S, 'st-empty', 'model.safetensors is empty', INV, rawFile(Buffer.alloc(0)));
  hfCase(ctx, S, 'st-7-bytes', '7 bytes', INV, rawFile(Buffer.alloc(7)));
  hfCase(ctx, S, 'st-length-only', 'only the 8-byte length', INV, rawFile(safetensors('', undefined, 0)));
  hfCase(ctx, S, 'st-zero-length-header', 'header length 0, data follows', INV, rawFile(safetensors('', d0, 0)));
  hfCase(ctx, S, 'st-length-past-end', 'header length past the end of the file', INV, rawFile(safetensors(h0, Buffer.alloc(0), 1e6)));
  hfCase(ctx, S, 'st-length-2-63', 'header length 2^63', INV, (m) => { const b = safetensors(h0, d0); b.writeBigUInt64LE(2n ** 63n, 0); put(st(m), b); });
  hfCase(ctx, S, 'st-length-max', 'header length 2^64-1', INV, (m) => { const b = safetensors(h0, d0); b.writeBigUInt64LE(2n ** 64n - 1n, 0); put(st(m), b); });
  hfCase(ctx, S, 'st-header-over-limit', 'header length 200 MB (over the 100 MB limit), file that long', INV, (m) => { put(st(m), safetensors('{}', Buffer.alloc(0), 200_000_000)); truncateSync(st(m), 200_000_100); });
  hfCase(ctx, S, 'st-header-not-json', 'header is not JSON', INV, rawFile(safetensors('{"a": [1, 2', d0)));
  hfCase(ctx, S, 'st-header-invalid-utf8', 'header holds invalid UTF-8', INV, rawFile(safetensors(Buffer.from('{"\xff\xfe": 1}', 'latin1'), d0)));
  hfCase(ctx, S, 'st-header-array', 'header is a JSON array', INV, rawFile(safetensors('[]', d0)));
  hfCase(ctx, S, 'st-header-null', 'header is null', INV, rawFile(safetensors('null', d0)));
  hfCase(ctx, S, 'st-header-empty-object', 'header {} (no tensors)', ['TENSOR_MISSING'], rawFile(safetensors('{}', d0)));
  hfCase(ctx, S, 'st-header-deep', 'header nested 100 000 deep', INV, rawFile(safetensors(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, d0)));
  hfCase(ctx, S, 'st-entry-not-object', 'tensor entry is a number', INV, withHeader((h) => { h[first] = 3; }));
  hfCase(ctx, S, 'st-dtype-unknown', 'dtype F8_E4M3', INV, withHeader((h) => { h[first].dtype = 'F8_E4M3'; }));
  hfCase(ctx, S, 'st-dtype-missing', 'dtype missing', INV, withHeader((h) => { delete h[first].dtype; }));
  hfCase(ctx, S, 'st-dtype-proto', 'dtype "__proto__"', INV, withHeader((h) => { h[first].dtype = '__proto__'; }));
  hfCase(ctx, S, 'st-dtype-i64', 'a weight stored as I64 (same byte count)', ['TENSOR_DTYPE', 'SAFETENSORS_INVALID'], withHeader((h) => { h[first].dtype = 'I32'; }));
  hfCase(ctx, S, 'st-shape-negative', 'shape with -1', INV, withHeader((h) => { h[first].shape = [-1, 128]; }));
  hfCase(ctx, S, 'st-shape-fraction', 'shape with 1.5', INV, withHeader((h) => { h[first].shape = [1.5, 128]; }));
  hfCase(ctx, S, 'st-shape-string', 'shape is a string', INV, withHeader((h) => { h[first].shape = '257,128'; }));
  hfCase(ctx, S, 'st-shape-overflow', 'shape product overflows 2^64', INV, withHeader((h) => { h[first].shape = [2 ** 31, 2 ** 31, 2 ** 31]; }));
  hfCase(ctx, S, 'st-shape-unsafe', 'shape dimension beyond 2^53', INV, withHeader((h) => { h[first].shape = [2 ** 60]; }));
  hfCase(ctx, S, 'st-shape-wrong-rank', 'wte stored as [257*128] (right size, wrong rank)', ['TENSOR_SHAPE'], withHeader((h) => { h[first].shape = [257 * 128]; }));
  hfCase(ctx, S, 'st-offsets-reversed', 'data_offsets [end, begin]', INV, withHeader((h) => { h[first].data_offsets = [...h[first].data_offsets].reverse(); }));
  hfCase(ctx, S, 'st-offsets-three', 'data_offsets with three numbers', INV, withHeader((h) => { h[first].data_offsets = [0, 4, 8]; }));
  hfCase(ctx, S, 'st-offsets-negative', 'data_offsets negative', INV, withHeader((h) => { h[first].data_offsets = [-4, 0]; }));
  hfCase(ctx, S, 'st-offsets-beyond-file', 'declared tensor bytes beyond the file', INV, withHeader((h) => { const n = h[first].data_offsets[1] - h[first].data_offsets[0]; h[first].data_offsets = [d0.length, d0.length + n]; }));
  hfCase(ctx, S, 'st-offsets-huge', 'data_offsets near 2^53', INV, withHeader((h) => { h[first].data_offsets = [2 ** 52, 2 ** 52 + 257 * 128 * 4]; }));
  hfCase(ctx, S, 'st-size-mismatch', 'shape and offsets disagree', INV, withHeader((h) => { h[first].shape = [256, 128]; }));
  hfCase(ctx, S, 'st-overlap', 'two tensors share bytes', INV, withHeader((h) => { const k = 'transformer.wpe.weight'; const n = h[k].data_offsets[1] - h[k].data_offsets[0]; h[k].data_offsets = [0, n]; }));
  hfCase(ctx, S, 'st-metadata-not-object', '__metadata__ is a string', INV, withHeader((h) => { h.__metadata__ = 'pt'; }));
  hfCase(ctx, S, 'st-metadata-number', '__metadata__ value is a number', INV, withHeader((h) => { h.__metadata__ = { format: 1 }; }));
  hfCase(ctx, S, 'st-tensor-renamed', 'wte renamed', ['TENSOR_MISSING'], withHeader((h) => { h['transformer.wte.weigth'] = h[first]; delete h[first]; }));
  hfCase(ctx, S, 'st-nan-weights', 'wte full of NaN', ['TENSOR_NONFINITE'], (m) => { const d = Buffer.from(d0); const [a, b] = h0[first].data_offsets; for (let i = a; i < b; i += 4) d.writeUInt32LE(0x7fc00000, i); put(st(m), safetensors(h0, d)); });
  hfCase(ctx, S, 'st-inf-weight', 'one +Inf in a layer norm weight', ['TENSOR_NONFINITE'], (m) => { const d = Buffer.from(d0); d.writeUInt32LE(0x7f800000, h0['transformer.h.0.ln_1.weight'].data_offsets[0]); put(st(m), safetensors(h0, d)); });
  const whole = safetensors(h0, d0);
  const dataAt = whole.length - d0.length;
  for (const [at, cut] of [['in-length', 5], ['in-header', 100], ['header-end', dataAt - 1], ['data-start', dataAt], ['in-first-tensor', dataAt + 1000], ['half', dataAt + (d0.length >> 1)], ['last-byte', whole.length - 1]]) {
    hfCase(ctx, S, `st-truncated-${at}`, `model.safetensors truncated to ${cut} of ${whole.length} bytes`, INV, (m) => put(st(m), whole.subarray(0, cut)));
  }
  hfCase(ctx, S, 'st-random-bytes', '64 KiB of random bytes', INV, rawFile(noise(65536, 7)));
  hfCase(ctx, S, 'st-zeros', '64 KiB of zeros', INV, rawFile(Buffer.alloc(65536)));
  hfCase(ctx, S, 'st-is-folder', 'model.safetensors is a folder', ['WEIGHTS_MISSING'], (m) => { rmSync(st(m)); mkdirSync(st(m)); });
  hfCase(ctx, S, 'st-symlink-dev-zero', 'model.safetensors links to /dev/zero', ['WEIGHTS_MISSING', 'SAFETENSORS_INVALID'], (m) => { rmSync(st(m)); symlinkSync('/dev/zero', st(m)); });
  hfCase(ctx, S, 'st-only-pytorch', 'only pytorch_model.bin', ['WEIGHTS_MISSING'], (m) => { rmSync(st(m)); rmSync(join(m, 'onnx'), { recursive: true, force: true }); put(join(m, 'pytorch_model.bin'), noise(100, 3)); });
}

// ── HF folder: shards and their index ──────────────────────────────────────────────────────────

function shardCases(ctx) {
  const S = 'hf-shards';
  const { header: h0, data: d0 } = readSt(join(GPT2, 'model.safetensors'));
  const names = Object.keys(h0).filter((k) => k !== '__metadata__');
  /** Splits the fixture into two shards + index, then applies `fn(modelDir, index)`. */
  const sharded = (fn) => (m) => {
    rmSync(join(m, 'model.safetensors'));
    const halves = [names.slice(0, names.length >> 1), names.slice(names.length >> 1)];
    const weightMap = {};
    halves.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      const header = {};
      const chunks = [];
      let at = 0;
      for (const k of part) {
        const [a, b] = h0[k].data_offsets;
        header[k] = { ...h0[k], data_offsets: [at, at + b - a] };
        chunks.push(d0.subarray(a, b));
        at += b - a;
        weightMap[k] = file;
      }
      put(join(m, file), safetensors(header, Buffer.concat(chunks)));
    });
    const index = { metadata: { total_size: d0.length }, weight_map: weightMap };
    const next = fn(m, index);
    put(join(m, 'model.safetensors.index.json'), typeof next === 'string' ? next : JSON.stringify(index));
  };
  const shard1 = 'model-00001-of-00002.safetensors';
  hfCase(ctx, S, 'index-not-json', 'index is not JSON', ['SAFETENSORS_INVALID'], sharded(() => '{"weight_map": {'));
  hfCase(ctx, S, 'index-no-weight-map', 'index without weight_map', ['SAFETENSORS_INVALID'], sharded(() => '{"metadata": {}}'));
  hfCase(ctx, S, 'index-empty-map', 'weight_map is empty', ['WEIGHTS_MISSING'], sharded(() => '{"weight_map": {}}'));
  hfCase(ctx, S, 'index-value-number', 'a weight_map value is a number', ['SAFETENSORS_INVALID'], sharded((m, i) => { i.weight_map['transformer.wte.weight'] = 1; }));
  hfCase(ctx, S, 'index-shard-missing', 'a shard is missing', ['WEIGHTS_MISSING'], sharded((m) => { rmSync(join(m, shard1)); }));
  hfCase(ctx, S, 'index-traversal', 'a shard named ../../etc/passwd', ['SAFETENSORS_INVALID'], sharded((m, i) => { i.weight_map['transformer.wte.weight'] = '../../../../etc/passwd'; }));
  hfCase(ctx, S, 'index-absolute', 'a shard named by an absolute path', ['SAFETENSORS_INVALID'], sharded((m, i) => { i.weight_map['transformer.wte.weight'] = '/etc/passwd'; }));
  hfCase(ctx, S, 'index-wrong-shard', 'a tensor listed in the shard that does not hold it', ['SAFETENSORS_INVALID'], sharded((m, i) => { i.weight_map['transformer.wte.weight'] = 'model-00002-of-00002.safetensors'; }));
  hfCase(ctx, S, 'index-tensor-unlisted', 'a tensor left out of weight_map', ['TENSOR_MISSING'], sharded((m, i) => { delete i.weight_map['transformer.wte.weight']; }));
  hfCase(ctx, S, 'index-shard-corrupt', 'a shard with a damaged header', ['SAFETENSORS_INVALID'], sharded((m) => { edit(join(m, shard1), (b) => { const c = Buffer.from(b); c.write('}}}}', 12); return c; }); }));
  hfCase(ctx, S, 'index-shard-truncated', 'a shard truncated', ['SAFETENSORS_INVALID'], sharded((m) => { edit(join(m, shard1), (b) => b.subarray(0, b.length - 10)); }));
  hfCase(ctx, S, 'index-shard-is-folder', 'a shard is a folder', ['WEIGHTS_MISSING'], sharded((m) => { rmSync(join(m, shard1)); mkdirSync(join(m, shard1)); }));
}

// ── tokenizer files and chat template ──────────────────────────────────────────────────────────

function tokenizerCases(ctx) {
  const T = 'tokenizer';
  const tok = (m) => join(m, 'tokenizer.json');
  const tcfg = (m) => join(m, 'tokenizer_config.json');
  const both = (id, what, change) => {
    hfCase(ctx, T, id, what, ['TOKENIZER_INVALID'], change);
  };
  both('tokenizer-missing', 'tokenizer.json removed', (m) => rmSync(tok(m)));
  both('tokenizer-config-missing', 'tokenizer_config.json removed', (m) => rmSync(tcfg(m)));
  both('tokenizer-empty', 'tokenizer.json empty', (m) => put(tok(m), ''));
  both('tokenizer-garbage', 'tokenizer.json random bytes', (m) => put(tok(m), noise(2000, 11)));
  both('tokenizer-truncated', 'tokenizer.json cut in half', (m) => edit(tok(m), (b) => b.subarray(0, b.length >> 1)));
  both('tokenizer-array', 'tokenizer.json is []', (m) => put(tok(m), '[]'));
  both('tokenizer-object-empty', 'tokenizer.json is {}', (m) => put(tok(m), '{}'));
  both('tokenizer-model-unknown', 'tokenizer model of unknown type "Foo" and nothing else', (m) => editJson(tok(m), (j) => { j.model = { type: 'Foo' }; }));
  both('tokenizer-vocab-null', 'tokenizer model vocab null', (m) => editJson(tok(m), (j) => { j.model.vocab = null; }));
  both('tokenizer-merges-bad', 'tokenizer merges are numbers', (m) => editJson(tok(m), (j) => { j.model.merges = [1, 2, 3]; }));
  both('tokenizer-config-garbage', 'tokenizer_config.json is not JSON', (m) => put(tcfg(m), '{"tokenizer_class": '));
  // Found by bench/fuzz.mjs: a vocabulary with a gap in its ids crashed loadTokenizer, and ids past vocab_size reached onnxruntime.
  both('tokenizer-vocab-id-gap', 'tokenizer vocabulary with id 101 moved to 300 (past vocab_size)', (m) => editJson(tok(m), (j) => { for (const [k, v] of Object.entries(j.model.vocab)) if (v === 101) j.model.vocab[k] = 300; }));
  // Found by bench/fuzz.mjs: JSON.parse's excerpt of a multi-line file put a line break inside the error line.
  both('tokenizer-config-multiline-json-error', 'tokenizer_config.json (multi-line) with a comma dropped', (m) => edit(tcfg(m), (b) => Buffer.from(b.toString('utf8').replace('",\n', '"\n'))));
  both('tokenizer-is-folder', 'tokenizer.json is a folder', (m) => { rmSync(tok(m)); mkdirSync(tok(m)); });
  // Chat templates: loading succeeds, rendering must fail with a typed error (API: loadTokenizer + applyChatTemplate; CLI: chat).
  const chatCase = (id, what, template) => {
    const dir = caseDir(ctx, id, GPT2);
    const model = join(dir, 'model');
    put(join(model, 'chat_template.jinja'), template);
    add(ctx, { id, group: 'chat-template', what, dir, cli: ['chat', model, '--ann-only', '-q', '--max-new-tokens', '2', '--offline'], stdin: 'hello\n/exit\n', api: { fn: 'chatTemplate', args: [model, 'hello'] }, expect: ['TOKENIZER_INVALID'] });
  };
  chatCase('chat-template-syntax', 'chat template with a syntax error', '{% for m in messages %}{{ m.content }');
  chatCase('chat-template-unclosed-block', 'chat template with an unclosed block', '{% for m in messages %}{{ m.content }}');
  chatCase('chat-template-raise', 'chat template that raises', "{{ raise_exception('no user turns allowed') }}");
  chatCase('chat-template-unknown-filter', 'chat template with an unknown filter', '{{ messages | frobnicate }}');
  chatCase('chat-template-huge-loop', 'chat template that loops 10^9 times', '{% for i in range(1000000000) %}x{% endfor %}');
  chatCase('chat-template-empty-output', 'chat template that renders nothing', '{# nothing #}');
}

// ── ONNX files, with the model's config and tokenizer beside them, so the importer reaches the defect ──

function onnxCases(ctx) {
  const O = 'onnx';
  const real = readFileSync(join(GPT2, 'onnx', 'model.onnx'));
  const expect = ['ONNX_INVALID', 'ONNX_OPSET_UNSUPPORTED', 'ONNX_EXTERNAL_DATA', 'ONNX_NOT_LIFTABLE', 'ONNX_NO_LOGITS', 'TENSOR_MISSING', 'OP_UNSUPPORTED'];
  const onnxCase = (id, what, bytes) => {
    const dir = caseDir(ctx, id);
    const file = join(dir, 'model.onnx');
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) put(join(dir, f), readFileSync(join(GPT2, f)));
    put(file, bytes);
    const { cli, out } = convertCase(ctx, dir, file);
    add(ctx, { id, group: O, what, dir, cli, api: apiConvert(file, out), expect, out });
  };
  onnxCase('onnx-empty', 'empty .onnx', Buffer.alloc(0));
  onnxCase('onnx-garbage', 'random bytes as .onnx', noise(4096, 21));
  onnxCase('onnx-truncated', 'real model.onnx truncated to 1000 bytes', real.subarray(0, 1000));
  onnxCase('onnx-truncated-half', 'real model.onnx truncated to half', real.subarray(0, real.length >> 1));
  onnxCase('onnx-text', 'a text file named .onnx', Buffer.from('this is not a protobuf\n'));
  // Well-formed protobuf, wrong model: each changes the real export in one way (for the ONNX importer being written).
  const edited = (fn) => { const m = onnx.ModelProto.decode(real); fn(m, m.graph); return Buffer.from(onnx.ModelProto.encode(m).finish()); };
  onnxCase('onnx-unknown-op', 'a node with op type FrobnicateOp', edited((m, g) => { g.node[3].opType = 'FrobnicateOp'; }));
  onnxCase('onnx-unknown-domain', 'a node in domain com.example', edited((m, g) => { g.node[3].domain = 'com.example'; }));
  onnxCase('onnx-opset-99', 'default opset 99', edited((m) => { m.opsetImport[0].version = 99; }));
  onnxCase('onnx-cycle', 'the first node reads the last node\'s output', edited((m, g) => { g.node[0].input[0] = g.node[g.node.length - 1].output[0]; }));
  onnxCase('onnx-missing-initializer', 'the embedding initializer removed', edited((m, g) => { g.initializer.splice(0, 1); }));
  onnxCase('onnx-initializer-short', 'an initializer with half its raw data', edited((m, g) => { const t = g.initializer[0]; t.rawData = t.rawData.subarray(0, t.rawData.length >> 1); }));
  onnxCase('onnx-initializer-wrong-type', 'an initializer typed STRING', edited((m, g) => { g.initializer[0].dataType = 8; }));
  onnxCase('onnx-external-data-outside', 'an initializer stored at ../../../etc/passwd', edited((m, g) => {
    const t = g.initializer[0];
    t.rawData = new Uint8Array(0);
    t.dataLocation = 1;
    t.externalData = [{ key: 'location', value: '../../../etc/passwd' }, { key: 'offset', value: '0' }, { key: 'length', value: '131584' }];
  }));
  onnxCase('onnx-no-graph', 'a ModelProto without a graph', edited((m) => { m.graph = null; }));
}

// ── bundles ────────────────────────────────────────────────────────────────────────────────────

function bundleCases(ctx) {
  const B = 'bundle';
  const bundleCase = (id, what, expect, change, { cli } = {}) => {
    const dir = caseDir(ctx, id, ctx.bundle);
    const b = join(dir, 'model.snn');
    change(b, dir);
    add(ctx, { id, group: B, what, dir, cli: cli ? cli(b) : ['inspect', b], api: { fn: 'loadBundle', args: [b] }, expect });
  };
  const meta = (b) => join(b, 'meta.json');
  const INV = ['BUNDLE_INVALID'];
  const TAMP = ['BUNDLE_TAMPERED'];
  bundleCase('bundle-meta-missing', 'meta.json removed', INV, (b) => rmSync(meta(b)));
  bundleCase('bundle-meta-empty', 'meta.json empty', INV, (b) => put(meta(b), ''));
  bundleCase('bundle-meta-garbage', 'meta.json random bytes', INV, (b) => put(meta(b), noise(500, 31)));
  bundleCase('bundle-meta-array', 'meta.json is []', INV, (b) => put(meta(b), '[]'));
  bundleCase('bundle-meta-newer-version', 'meta.json from format version 4', INV, (b) => editJson(meta(b), (m) => { m.formatVersion = 4; }));
  bundleCase('bundle-meta-format-1', 'meta.json of format 1 (before stored forms)', INV, (b) => editJson(meta(b), (m) => { m.formatVersion = 1; }));
  bundleCase('bundle-meta-no-forms', 'meta.json lists no forms', INV, (b) => editJson(meta(b), (m) => { m.forms = []; }));
  bundleCase('bundle-form-missing', 'model-steps.onnx removed', INV, (b) => rmSync(join(b, 'model-steps.onnx')));
  bundleCase('bundle-meta-other-format', 'meta.json of another format', INV, (b) => editJson(meta(b), (m) => { m.format = 'other'; }));
  bundleCase('bundle-meta-files-not-object', 'meta.json files is a list', INV, (b) => editJson(meta(b), (m) => { m.files = ['config.json']; }));
  bundleCase('bundle-meta-form-unhashed', 'meta.json lists a form without its sha256', INV, (b) => editJson(meta(b), (m) => { delete m.files['model-portable.onnx']; }));
  bundleCase('bundle-meta-unlisted-required', 'meta.json does not list model.onnx', INV, (b) => editJson(meta(b), (m) => { delete m.files['model.onnx']; }));
  bundleCase('bundle-meta-traversal', 'meta.json lists ../../../etc/passwd', INV, (b) => editJson(meta(b), (m) => { m.files['../../../../etc/passwd'] = sha256('/etc/passwd'); }));
  bundleCase('bundle-meta-absolute', 'meta.json lists /etc/passwd', INV, (b) => editJson(meta(b), (m) => { m.files['/etc/passwd'] = sha256('/etc/passwd'); }));
  bundleCase('bundle-symlink-out', 'tokenizer.json is a symlink out of the bundle (hash matches)', INV, (b, dir) => {
    const outside = join(dir, 'outside-tokenizer.json');
    copyFileSync(join(b, 'tokenizer.json'), outside);
    rmSync(join(b, 'tokenizer.json'));
    symlinkSync(outside, join(b, 'tokenizer.json'));
  });
  bundleCase('bundle-symlink-weights', 'weights.safetensors is a symlink out of the bundle (hash matches)', INV, (b, dir) => {
    const outside = join(dir, 'outside.safetensors');
    copyFileSync(join(b, 'weights.safetensors'), outside);
    rmSync(join(b, 'weights.safetensors'));
    symlinkSync(outside, join(b, 'weights.safetensors'));
  });
  const files = ['config.json', 'weights.safetensors', 'model.onnx', 'ann.onnx', 'graph.json', 'tokenizer.json', 'tokenizer_config.json'];
  for (const f of files) bundleCase(`bundle-missing-${f}`, `${f} removed`, INV, (b) => rmSync(join(b, f)));
  for (const f of files) bundleCase(`bundle-tampered-${f}`, `one byte of ${f} changed`, TAMP, (b) => edit(join(b, f), (buf) => { const c = Buffer.from(buf); const i = c.length - 3; c[i] = c[i] ^ 0x01; return c; }));
  bundleCase('bundle-hash-mismatch', 'meta.json records another sha256', TAMP, (b) => editJson(meta(b), (m) => { m.files['config.json'] = '0'.repeat(64); }));
  bundleCase('bundle-hash-malformed', 'meta.json sha256 is not hex', TAMP, (b) => editJson(meta(b), (m) => { m.files['config.json'] = 'xyz'; }));
  bundleCase('bundle-weights-truncated-rehashed', 'weights.safetensors truncated, hash recomputed', ['SAFETENSORS_INVALID', 'BUNDLE_INVALID'], (b) => { edit(join(b, 'weights.safetensors'), (buf) => buf.subarray(0, buf.length >> 1)); rehash(b, 'weights.safetensors'); });
  bundleCase('bundle-weights-header-rehashed', 'weights.safetensors header damaged, hash recomputed', ['SAFETENSORS_INVALID', 'BUNDLE_INVALID'], (b) => { edit(join(b, 'weights.safetensors'), (buf) => { const c = Buffer.from(buf); c.write('\x00\x00', 20, 'latin1'); return c; }); rehash(b, 'weights.safetensors'); });
  bundleCase('bundle-weights-oversized-rehashed', 'weights.safetensors declares a tensor beyond the file, hash recomputed', ['SAFETENSORS_INVALID', 'BUNDLE_INVALID'], (b) => {
    const p = join(b, 'weights.safetensors');
    const { header, data } = readSt(p);
    const k = Object.keys(header).find((n) => n !== '__metadata__');
    header[k].data_offsets = [data.length, data.length + header[k].data_offsets[1] - header[k].data_offsets[0]];
    put(p, safetensors(header, data));
    rehash(b, 'weights.safetensors');
  });
  bundleCase('bundle-config-garbage-rehashed', 'config.json not JSON, hash recomputed', INV, (b) => { put(join(b, 'config.json'), '{"model_type":'); rehash(b, 'config.json'); });
  bundleCase('bundle-config-array-rehashed', 'config.json is [], hash recomputed', INV, (b) => { put(join(b, 'config.json'), '[]'); rehash(b, 'config.json'); });
  bundleCase('bundle-graph-garbage-rehashed', 'graph.json not JSON, hash recomputed', INV, (b) => { put(join(b, 'graph.json'), '{"spec":'); rehash(b, 'graph.json'); });
  bundleCase('bundle-graph-schema-rehashed', 'graph.json without nodes, hash recomputed', INV, (b) => { editJson(join(b, 'graph.json'), (g) => { delete g.nodes; }); rehash(b, 'graph.json'); });
  bundleCase('bundle-graph-weight-shape-rehashed', 'graph.json weight shape [1e9, 1e9], hash recomputed', INV, (b) => { editJson(join(b, 'graph.json'), (g) => { g.weights[0].shape = [1e9, 1e9]; }); rehash(b, 'graph.json'); });
  bundleCase('bundle-graph-weight-unknown-rehashed', 'graph.json names a weight the file lacks, hash recomputed', INV, (b) => { editJson(join(b, 'graph.json'), (g) => { g.weights[0].name = 'nope'; }); rehash(b, 'graph.json'); });
  bundleCase('bundle-graph-vocab-huge-rehashed', 'graph.json spec vocab 1e12, hash recomputed', INV, (b) => { editJson(join(b, 'graph.json'), (g) => { g.spec.vocabSize = 1e12; }); rehash(b, 'graph.json'); });
  bundleCase('bundle-onnx-garbage-rehashed', 'model.onnx random bytes, hash recomputed', ['BUNDLE_INVALID', 'RUN_FAILED', 'ONNX_INVALID'], (b) => { put(join(b, 'model.onnx'), noise(5000, 41)); rehash(b, 'model.onnx'); }, { cli: (b) => ['generate', b, '--prompt', 'ROMEO:', '--max-new-tokens', '2', '-q'] });
  bundleCase('bundle-tokenizer-garbage-rehashed', 'tokenizer.json garbage, hash recomputed', ['TOKENIZER_INVALID', 'BUNDLE_INVALID'], (b) => { put(join(b, 'tokenizer.json'), '{"model":'); rehash(b, 'tokenizer.json'); }, { cli: (b) => ['generate', b, '--prompt', 'ROMEO:', '--max-new-tokens', '2', '-q'] });
  bundleCase('bundle-is-file', 'a .snn that is a file', INV, (b) => { rmSync(b, { recursive: true }); put(b, 'not a folder'); });
  bundleCase('bundle-empty-folder', 'an empty .snn folder', INV, (b) => { rmSync(b, { recursive: true }); mkdirSync(b); });
  bundleCase('bundle-generate-tampered', 'generate on a bundle with tampered weights', TAMP, (b) => edit(join(b, 'weights.safetensors'), (buf) => { const c = Buffer.from(buf); c[c.length - 1] ^= 0x80; return c; }), { cli: (b) => ['generate', b, '--prompt', 'ROMEO:', '--max-new-tokens', '2', '-q'] });
  bundleCase('bundle-eval-missing', 'eval on a bundle without model.onnx', INV, (b) => rmSync(join(b, 'model.onnx')), { cli: (b) => ['eval', b, '--text', join(GPT2, 'heldout.txt'), '-q'] });
}

// ── prompts ────────────────────────────────────────────────────────────────────────────────────

function promptCases(ctx) {
  const P = 'prompt';
  const gen = (id, what, expect, { prompt, file, fileBytes, extra = [], overflow = 'error' }) => {
    const dir = caseDir(ctx, id);
    let flag;
    if (fileBytes !== undefined) {
      put(join(dir, 'prompt.txt'), fileBytes);
      flag = ['--prompt-file', join(dir, 'prompt.txt')];
    } else if (file !== undefined) flag = ['--prompt-file', file];
    else flag = ['--prompt', prompt];
    add(ctx, {
      id, group: P, what, dir,
      cli: ['generate', ctx.bundle, ...flag, '--max-new-tokens', '2', '-q', '--overflow', overflow, ...extra],
      api: { fn: 'generate', args: [ctx.bundle, fileBytes !== undefined || file !== undefined ? { file: flag[1] } : { text: prompt }, { overflow }] },
      expect,
    });
  };
  gen('prompt-empty', 'an empty prompt', ['INPUT_INVALID', 'TEXT_INVALID'], { prompt: '' });
  gen('prompt-beyond-context', 'a prompt of 200 tokens, context 128, overflow error', ['CONTEXT_OVERFLOW'], { prompt: 'x'.repeat(200) });
  gen('prompt-file-invalid-utf8', 'a prompt file with invalid UTF-8', ['TEXT_INVALID'], { fileBytes: Buffer.from([0x52, 0x4f, 0xff, 0xfe, 0x80, 0x0a]) });
  gen('prompt-file-10mb', 'a 10 MB prompt file, overflow error', ['CONTEXT_OVERFLOW', 'TEXT_INVALID'], { fileBytes: Buffer.alloc(10 * 1024 * 1024, 'a') });
  gen('prompt-file-binary', 'a prompt file with NUL bytes', ['TEXT_INVALID'], { fileBytes: noise(1000, 51) });
  gen('prompt-file-empty', 'an empty prompt file', ['TEXT_INVALID', 'INPUT_INVALID'], { fileBytes: Buffer.alloc(0) });
  gen('prompt-file-missing', 'a prompt file that does not exist', ['TEXT_INVALID'], { file: join(ctx.root, 'no-such-prompt.txt') });
}

// ── calibration and evaluation texts ───────────────────────────────────────────────────────────

function textCases(ctx) {
  const C = 'calibration-text';
  const calib = (id, what, expect, bytes, { length = 16, samples = 2 } = {}) => {
    const dir = caseDir(ctx, id);
    const text = join(dir, 'calib.txt');
    if (bytes === 'folder') mkdirSync(text);
    else if (bytes !== null) put(text, bytes);
    const { out } = convertCase(ctx, dir, GPT2);
    add(ctx, {
      id, group: C, what, dir,
      cli: ['convert', GPT2, '-o', out, '-q', '--no-report', '-t', '2', '--calib-text', text, '--calib-samples', String(samples), '--calib-length', String(length)],
      api: apiConvert(GPT2, out, { calibration: { text, samples, length } }),
      expect, out,
    });
  };
  calib('calib-empty', 'an empty calibration text', ['TEXT_INVALID', 'CALIBRATION_TEXT'], Buffer.alloc(0));
  calib('calib-binary', 'random bytes as calibration text', ['TEXT_INVALID'], noise(100_000, 61));
  calib('calib-nul', 'valid UTF-8 but full of NUL bytes', ['TEXT_INVALID'], Buffer.alloc(5000));
  calib('calib-invalid-utf8', 'Shakespeare with one invalid UTF-8 byte', ['TEXT_INVALID'], Buffer.concat([readFileSync(join(GPT2, 'heldout.txt')).subarray(0, 3000), Buffer.from([0xc3, 0x28])]));
  calib('calib-short', 'shorter than one window', ['CALIBRATION_TEXT'], Buffer.from('To be'));
  calib('calib-short-for-samples', 'one window, but 64 samples asked', ['CALIBRATION_TEXT'], Buffer.from('To be or not to be, that is the question.'), { samples: 1000, length: 40 });
  calib('calib-missing', 'calibration text does not exist', ['TEXT_INVALID'], null);
  calib('calib-folder', 'calibration text is a folder', ['TEXT_INVALID'], 'folder');
  const E = 'eval-text';
  const evalCase = (id, what, expect, bytes, extra = []) => {
    const dir = caseDir(ctx, id);
    const text = join(dir, 'eval.txt');
    if (bytes !== null) put(text, bytes);
    add(ctx, { id, group: E, what, dir, cli: ['eval', ctx.bundle, '--text', text, '-q', '--json', ...extra], api: { fn: 'evaluateText', args: [ctx.bundle, text] }, expect });
  };
  evalCase('eval-empty', 'an empty evaluation text', ['TEXT_INVALID'], Buffer.alloc(0));
  evalCase('eval-binary', 'random bytes as evaluation text', ['TEXT_INVALID'], noise(50_000, 71));
  evalCase('eval-short', 'shorter than one window', ['TEXT_INVALID'], Buffer.from('Hark!'));
  evalCase('eval-missing', 'evaluation text does not exist', ['TEXT_INVALID'], null);
}

// ── command-line flags out of range ────────────────────────────────────────────────────────────

function flagCases(ctx) {
  const F = 'cli-flags';
  const flag = (id, args, api, expect = ['OPTION_INVALID']) => {
    const dir = caseDir(ctx, id);
    const out = join(dir, 'out.snn');
    const fill = (a) => a.replace(/^\$B/, ctx.bundle).replace(/^\$OUT/, out).replace(/^\$M/, GPT2);
    const cli = args.map(fill);
    const call = JSON.parse(JSON.stringify(api), (k, v) => (typeof v === 'string' ? fill(v) : v));
    add(ctx, { id, group: F, what: `snnconvert ${args.join(' ')}`, dir, cli, api: call, expect, out });
  };
  const conv = (opts) => ({ fn: 'convert', args: ['$M', { out: '$OUT', calibration: { samples: 2, length: 16 }, ...opts }] });
  const cv = (...a) => ['convert', '$M', '-o', '$OUT', '-q', '--no-report', '--calib-samples', '2', '--calib-length', '16', ...a];
  flag('timesteps-zero', cv('-t', '0'), conv({ timesteps: 0 }));
  flag('timesteps-negative', cv('-t', '-3'), conv({ timesteps: -3 }));
  flag('timesteps-text', cv('-t', 'abc'), conv({ timesteps: 'abc' }));
  flag('timesteps-fraction', cv('-t', '1.5'), conv({ timesteps: 1.5 }));
  flag('timesteps-huge', cv('-t', '1000000000'), conv({ timesteps: 1e9 }));
  flag('timesteps-1025', cv('-t', '1025'), conv({ timesteps: 1025 }));
  flag('recipe-unknown', cv('-r', 'magic'), conv({ recipe: 'magic' }));
  flag('recipe-empty', cv('-r', ''), conv({ recipe: '' }));
  flag('threshold-unknown', cv('--threshold', 'p50'), conv({ threshold: 'p50' }));
  flag('threshold-number', cv('--threshold', '0.999'), conv({ threshold: '0.999' }));
  flag('levels-zero', cv('--levels', '0'), conv({ levels: 0 }));
  flag('levels-65', cv('--levels', '65'), conv({ levels: 65 }));
  flag('levels-garbage', cv('--levels', 'ln_1=two'), conv({ levels: 'ln_1=two' }));
  flag('levels-empty-suffix', cv('--levels', '=2'), conv({ levels: '=2' }));
  flag('calib-samples-zero', ['convert', '$M', '-o', '$OUT', '-q', '--no-report', '--calib-samples', '0'], conv({ calibration: { samples: 0, length: 16 } }));
  flag('calib-samples-huge', cv('--calib-samples', '100000000'), conv({ calibration: { samples: 1e8, length: 16 } }), ['CALIBRATION_TEXT', 'OPTION_INVALID', 'CALIBRATION_BUDGET']);
  flag('calib-length-zero', ['convert', '$M', '-o', '$OUT', '-q', '--no-report', '--calib-samples', '2', '--calib-length', '0'], conv({ calibration: { samples: 2, length: 0 } }));
  flag('calib-length-beyond-context', ['convert', '$M', '-o', '$OUT', '-q', '--no-report', '--calib-samples', '2', '--calib-length', '100000'], conv({ calibration: { samples: 2, length: 100000 } }), ['OPTION_INVALID', 'CALIBRATION_TEXT']);
  flag('out-is-file', ['convert', '$M', '-o', '$M/config.json', '-q', '--no-report', '--calib-samples', '2', '--calib-length', '16'], { fn: 'convert', args: ['$M', { out: '$M/config.json', calibration: { samples: 2, length: 16 } }] }, ['OUTPUT_EXISTS']);
  flag('model-missing', ['convert', './no-such-model', '-o', '$OUT', '-q'], { fn: 'convert', args: ['./no-such-model', { out: '$OUT' }] }, ['MODEL_NOT_FOUND']);
  flag('model-bad-hub-id', ['convert', 'a/b/c/../d', '-o', '$OUT', '-q', '--offline'], { fn: 'convert', args: ['a/b/c/../d', { out: '$OUT', offline: true }] }, ['MODEL_NOT_FOUND']);
  flag('model-hub-uncached-offline', ['convert', 'nobody/nothing', '-o', '$OUT', '-q', '--offline'], { fn: 'convert', args: ['nobody/nothing', { out: '$OUT', offline: true }] }, ['HUB_NOT_CACHED']);
  flag('model-is-bundle', ['convert', '$B', '-o', '$OUT', '-q'], { fn: 'convert', args: ['$B', { out: '$OUT' }] }, ['ALREADY_A_BUNDLE']);
  const g = (...a) => ['generate', '$B', '--prompt', 'ROMEO:', '-q', ...a];
  const gapi = (opts) => ({ fn: 'generate', args: ['$B', { text: 'ROMEO:' }, opts] });
  flag('max-new-tokens-zero', g('--max-new-tokens', '0'), gapi({ maxNewTokens: 0 }));
  flag('max-new-tokens-negative', g('--max-new-tokens', '-5'), gapi({ maxNewTokens: -5 }));
  flag('max-new-tokens-text', g('--max-new-tokens', 'many'), gapi({ maxNewTokens: 'many' }));
  flag('temperature-negative', g('--temperature', '-1'), gapi({ temperature: -1 }));
  flag('temperature-nan', g('--temperature', 'NaN'), gapi({ temperature: Number.NaN }));
  flag('temperature-inf', g('--temperature', 'Infinity'), gapi({ temperature: 1e400 }));
  flag('top-k-negative', g('--top-k', '-1'), gapi({ topK: -1 }));
  flag('top-k-fraction', g('--top-k', '2.5'), gapi({ topK: 2.5 }));
  flag('top-p-zero', g('--top-p', '0'), gapi({ topP: 0 }));
  flag('top-p-above-one', g('--top-p', '1.5'), gapi({ topP: 1.5 }));
  flag('repetition-penalty-zero', g('--repetition-penalty', '0'), gapi({ repetitionPenalty: 0 }));
  flag('repetition-penalty-negative', g('--repetition-penalty', '-2'), gapi({ repetitionPenalty: -2 }));
  flag('seed-negative', g('--seed', '-1'), gapi({ seed: 0.5 }));
  flag('seed-text', g('--seed', 'abc'), gapi({ seed: 'abc' }));
  flag('stop-empty', g('--stop', ''), gapi({ stop: [''] }));
  flag('overflow-unknown', g('--overflow', 'wrap'), gapi({ overflow: 'wrap' }));
  flag('device-unknown', g('--device', 'tpu'), { fn: 'loadBundle', args: ['$B', { device: 'tpu' }] });
  flag('generate-no-prompt', ['generate', '$B', '-q'], gapi({ maxNewTokens: 'x' }));
  flag('generate-hf-without-ann-only', ['generate', '$M', '--prompt', 'x', '-q'], { fn: 'hfSnnSession', args: ['$M'] });
  const ev = (...a) => ['eval', '$B', '--text', join(GPT2, 'heldout.txt'), '-q', ...a];
  const evapi = (opts) => ({ fn: 'evaluateText', args: ['$B', join(GPT2, 'heldout.txt'), opts] });
  flag('eval-window-one', ev('--window', '1'), evapi({ window: 1 }));
  flag('eval-window-beyond-context', ev('--window', '100000'), evapi({ window: 100000 }), ['OPTION_INVALID', 'CONTEXT_OVERFLOW', 'TEXT_INVALID']);
  flag('eval-stride-zero', ev('--stride', '0'), evapi({ stride: 0 }));
  flag('eval-stride-text', ev('--stride', 'x'), evapi({ stride: 'x' }));
  flag('eval-max-windows-zero', ev('--max-windows', '0'), evapi({ window: -1 }));
  flag('eval-sweep-zero', ev('--timesteps-sweep', '0,4'), { fn: 'retarget', args: ['$B', 0] });
  flag('eval-sweep-garbage', ev('--timesteps-sweep', 'a,b'), { fn: 'retarget', args: ['$B', 'a'] });
  flag('eval-sweep-huge', ev('--timesteps-sweep', '100000'), { fn: 'retarget', args: ['$B', 100000] });
  flag('eval-no-text', ['eval', '$B', '-q'], evapi({ window: 0 }));
  flag('unknown-option', ['inspect', '$B', '--frobnicate'], { fn: 'loadBundle', args: ['$B', { device: 'quantum' }] });
  flag('unknown-command', ['frobnicate', '$B'], { fn: 'convert', args: ['$B', { out: '$OUT', timesteps: 'x' }] });
  flag('inspect-no-bundle', ['inspect'], { fn: 'loadBundle', args: ['$B', { device: '' }] });
  flag('bench-not-bundle', ['bench', '$M', '-q'], { fn: 'loadBundle', args: ['$M'] }, ['BUNDLE_INVALID', 'OPTION_INVALID']);
  flag('test-missing-dialogues', ['test', '$B', '--dialogues', './no-such.jsonl'], { fn: 'dialogues', args: ['./no-such.jsonl'] }, ['TEXT_INVALID']);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? 'corpus');
  const cases = makeCorpus(out);
  const groups = {};
  for (const c of cases) groups[c.group] = (groups[c.group] ?? 0) + 1;
  process.stdout.write(`${cases.length} cases in ${out}: ${Object.entries(groups).map(([g, n]) => `${g} ${n}`).join(', ')}\n`);
}

export { noise, safetensors, readSt };
