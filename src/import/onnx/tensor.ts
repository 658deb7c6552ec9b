// ONNX TensorProto → a typed constant: floats as Float32Array, integers (int64 included) as exact safe numbers.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { SnnError } from '../../errors/index.js';

import type { Const } from '../../ops/lift.js';

export type { Const };

/** The subset of onnx.ITensorProto read here (onnx-proto decodes int64 as Long or number). */
export interface TensorProtoLike {
  readonly name?: string | null;
  readonly dims?: readonly (number | LongLike)[] | null;
  readonly dataType?: number | null;
  readonly floatData?: readonly number[] | null;
  readonly int32Data?: readonly number[] | null;
  readonly int64Data?: readonly (number | LongLike)[] | null;
  readonly doubleData?: readonly number[] | null;
  readonly rawData?: Uint8Array | null;
  readonly externalData?: readonly { key?: string | null; value?: string | null }[] | null;
  readonly dataLocation?: number | null;
}

export interface LongLike { readonly low: number; readonly high: number; readonly unsigned?: boolean }

const FLOAT = 1, UINT8 = 2, INT8 = 3, INT16 = 5, INT32 = 6, INT64 = 7, BOOL = 9, FLOAT16 = 10, DOUBLE = 11, BFLOAT16 = 16;

/** A protobuf int64 as an exact number, clamped to the safe range (INT64_MAX slice ends stay "to the end"). */
export function int64(v: number | LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  const big = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  const signed = v.unsigned ? big : BigInt.asIntN(64, big);
  return clampSafe(signed);
}

function clampSafe(b: bigint): number {
  if (b > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (b < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(b);
}

const numel = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/**
 * Decodes a tensor. External data is read from `modelDir`, refusing a location outside it or a
 * range beyond the file's end. `at` names the tensor in errors.
 */
export function decodeTensor(t: TensorProtoLike, modelDir: string, at: string, onExternal?: (file: string) => void): Const {
  const dims = (t.dims ?? []).map((d) => int64(d));
  const n = numel(dims);
  const type = t.dataType ?? 0;
  const raw = t.dataLocation === 1 ? readExternal(t, modelDir, at, n * byteWidth(type, at), onExternal) : t.rawData && t.rawData.length > 0 ? t.rawData : null;
  const kind: Const['kind'] = type === FLOAT || type === FLOAT16 || type === BFLOAT16 || type === DOUBLE ? 'float' : type === BOOL ? 'bool' : 'int';
  const out = kind === 'float' ? new Float32Array(n) : new Float64Array(n);
  if (raw) {
    if (raw.length !== n * byteWidth(type, at)) {
      throw new SnnError('ONNX_INVALID', { message: `tensor "${t.name ?? ''}" holds ${raw.length} bytes, its dims [${dims.join(', ')}] need ${n * byteWidth(type, at)}`, at, hint: 'the file is damaged or truncated: export it again' });
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) out[i] = readRaw(view, type, i);
  } else {
    const src: readonly (number | LongLike)[] = type === FLOAT || type === FLOAT16 || type === BFLOAT16 ? t.floatData ?? t.int32Data ?? []
      : type === INT64 ? t.int64Data ?? [] : type === DOUBLE ? t.doubleData ?? [] : t.int32Data ?? [];
    if (src.length !== n && !(n === 0 && src.length === 0)) {
      throw new SnnError('ONNX_INVALID', { message: `tensor "${t.name ?? ''}" holds ${src.length} values, its dims [${dims.join(', ')}] need ${n}`, at, hint: 'the file is damaged or truncated: export it again' });
    }
    for (let i = 0; i < n; i++) out[i] = type === FLOAT16 ? half(int64(src[i])) : type === BFLOAT16 ? bf16(int64(src[i])) : int64(src[i]);
  }
  return { kind, dims, data: out };
}

function byteWidth(type: number, at: string): number {
  switch (type) {
    case FLOAT: case INT32: return 4;
    case INT64: case DOUBLE: return 8;
    case FLOAT16: case BFLOAT16: case INT16: return 2;
    case UINT8: case INT8: case BOOL: return 1;
    default: throw new SnnError('ONNX_INVALID', { message: `tensor data type ${type} is not supported (float, float16, bfloat16, double, int8–int64, uint8, bool are)`, at });
  }
}

function readRaw(view: DataView, type: number, i: number): number {
  switch (type) {
    case FLOAT: return view.getFloat32(i * 4, true);
    case DOUBLE: return view.getFloat64(i * 8, true);
    case INT64: return clampSafe(view.getBigInt64(i * 8, true));
    case INT32: return view.getInt32(i * 4, true);
    case INT16: return view.getInt16(i * 2, true);
    case INT8: return view.getInt8(i);
    case UINT8: case BOOL: return view.getUint8(i);
    case FLOAT16: return half(view.getUint16(i * 2, true));
    default: return bf16(view.getUint16(i * 2, true));
  }
}

function half(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bf16(bits: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setUint32(0, bits << 16);
  return b.getFloat32(0);
}

/** Reads the bytes of an external-data tensor: location inside the model folder, range inside the file. */
function readExternal(t: TensorProtoLike, modelDir: string, at: string, expected: number, onExternal?: (file: string) => void): Uint8Array {
  const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  const name = t.name ?? '';
  if (!location) throw new SnnError('ONNX_EXTERNAL_DATA', { message: `tensor "${name}" is marked external but names no location`, at });
  const file = resolve(modelDir, location);
  const rel = relative(modelDir, file);
  if (isAbsolute(location) || rel === '' || isAbsolute(rel) || rel.split(sep)[0] === '..') {
    throw new SnnError('ONNX_EXTERNAL_DATA', { message: `tensor "${name}" points at "${location}", outside the model's folder`, at, hint: 'external data must be a file inside the folder of model.onnx: the model is damaged or malicious' });
  }
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new SnnError('ONNX_EXTERNAL_DATA', { message: `tensor "${name}" needs the external data file "${location}", which is not there`, at: file });
  const offset = Number(entries.get('offset') ?? 0);
  const length = entries.has('length') ? Number(entries.get('length')) : expected;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length !== expected || offset + length > stat.size) {
    throw new SnnError('ONNX_EXTERNAL_DATA', { message: `tensor "${name}": bytes ${offset}..${offset + length} of "${location}" (${stat.size} bytes) do not hold its ${expected} bytes`, at: file, hint: 'the external data file is truncated or belongs to another export: export the model again' });
  }
  onExternal?.(file);
  const buf = new Uint8Array(length);
  const fd = openSync(file, 'r');
  try { readSync(fd, buf, 0, length, offset); } finally { closeSync(fd); }
  return buf;
}
