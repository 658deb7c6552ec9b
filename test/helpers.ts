// Shared test helpers: fixture paths, temp folders, and a raw safetensors writer for any dtype.
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SnnError } from '../src/errors/index.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const FIXTURES = join(ROOT, 'fixtures');
export const GPT2_DIR = join(FIXTURES, 'shakespeare-gpt2');
export const LLAMA_DIR = join(FIXTURES, 'shakespeare-llama');
export const CLI = join(ROOT, 'bin', 'snnconvert.js');

export function tempDir(prefix = 'snn-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface RawTensor {
  readonly dtype: 'F32' | 'F16' | 'BF16' | 'I64';
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** Writes a safetensors file byte by byte (independent of the code under test). */
export function writeRawSafetensors(path: string, tensors: ReadonlyMap<string, RawTensor>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, ...[...tensors.values()].map((t) => Buffer.from(t.bytes))]));
}

/** Reads every tensor of a safetensors file (test-side reader, independent of src/). */
export function readRawSafetensors(buf: Buffer): Map<string, RawTensor> {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: RawTensor['dtype']; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, RawTensor>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, { dtype: h.dtype, shape: h.shape, bytes: new Uint8Array(buf.subarray(8 + n + h.data_offsets[0], 8 + n + h.data_offsets[1])) });
  }
  return out;
}

/** A copy of a fixture model folder with every tensor stored as `dtype`, as real checkpoints ship (BF16 for SmolLM2 and Qwen2.5). */
export function halfPrecisionCopy(src: string, dtype: 'F16' | 'BF16'): string {
  const dir = tempDir(`snn-${dtype.toLowerCase()}-`);
  for (const e of readdirSync(src, { withFileTypes: true })) if (e.isFile() && e.name !== 'model.safetensors') copyFileSync(join(src, e.name), join(dir, e.name));
  const tensors = readRawSafetensors(readFileSync(join(src, 'model.safetensors')));
  writeRawSafetensors(join(dir, 'model.safetensors'), new Map([...tensors].map(([k, v]) => [k, { dtype, shape: v.shape, bytes: narrow(v.bytes, dtype) }])));
  return dir;
}

/** F32 bytes → BF16 (truncation) or F16 (round to nearest) bytes. */
export function narrow(bytes: Uint8Array, to: 'F16' | 'BF16'): Uint8Array {
  const f = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = to === 'BF16' ? u[i]! >>> 16 : toHalf(f[i]!);
  return new Uint8Array(out.buffer);
}

function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign | Math.round((mant | 0x800000) / 2 ** (14 - exp));
  if (exp >= 31) return sign | 0x7c00;
  const h = sign | (exp << 10) | (mant >>> 13);
  return (mant & 0x1fff) > 0x1000 || ((mant & 0x1fff) === 0x1000 && (h & 1)) ? h + 1 : h;
}

/** Logits of the model's own exported ONNX (an independent reference), one uncached row of ids. */
export async function referenceLogits(modelDir: string, ids: readonly number[]): Promise<Float32Array> {
  const ort = (await import('onnxruntime-node')).default;
  const { readFileSync } = await import('node:fs');
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, number>;
  const layers = config['n_layer'] ?? config['num_hidden_layers']!;
  const kvHeads = config['num_key_value_heads'] ?? config['n_head']!;
  const headDim = config['head_dim'] ?? (config['n_embd'] ?? config['hidden_size']!) / (config['n_head'] ?? config['num_attention_heads']!);
  const session = await ort.InferenceSession.create(join(modelDir, 'onnx', 'model.onnx'));
  const S = ids.length;
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, S]),
  };
  for (let l = 0; l < layers; l++) for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  const out = await session.run(feeds, ['logits']);
  await session.release();
  return out['logits']!.data as Float32Array;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}


/** The SnnError that `fn` throws (any other throw, or none, fails the test). */
export function snnErrorOf(fn: () => unknown): SnnError {
  try { fn(); } catch (e) { if (e instanceof SnnError) return e; throw e; }
  throw new Error('expected an SnnError, but nothing was thrown');
}

/** The SnnError that `promise` rejects with. */
export async function snnRejection(promise: Promise<unknown>): Promise<SnnError> {
  try { await promise; } catch (e) { if (e instanceof SnnError) return e; throw e; }
  throw new Error('expected an SnnError, but the promise resolved');
}
