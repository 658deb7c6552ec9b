// Test side, independent of src/: half-precision rounding by bits, a torch-.half()-style rewrite of an fp32 export, and onnxruntime perplexity of any export.
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
export type Half = 'float16' | 'bfloat16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bits of `x` in the half type, rounded to nearest, ties to even (numpy's and torch's conversion). */
export function halfBits(x: number, to: Half): number {
  f32[0] = x;
  const b = u32[0]!;
  if (to === 'bfloat16') return Number.isNaN(x) ? 0x7fc0 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  const sign = (b >>> 16) & 0x8000;
  const exp = ((b >>> 23) & 0xff) - 127 + 15;
  const mant = b & 0x7fffff;
  if (((b >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = mant | 0x800000, shift = 14 - exp, q = m >>> shift, rest = m - q * 2 ** shift, halfway = 2 ** (shift - 1);
    return sign | (rest > halfway || (rest === halfway && q & 1) ? q + 1 : q);
  }
  const h = sign | (exp << 10) | (mant >>> 13);
  return (mant & 0x1fff) > 0x1000 || ((mant & 0x1fff) === 0x1000 && h & 1) ? h + 1 : h;
}

/** The value of half-type bits as a number. */
export function halfValue(bits: number, from: Half): number {
  if (from === 'bfloat16') { u32[0] = bits << 16; return f32[0]!; }
  const s = bits & 0x8000 ? -1 : 1, e = (bits >> 10) & 0x1f, m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export const roundHalf = (x: number, to: Half): number => halfValue(halfBits(x, to), to);
/** The largest finite value of the type (torch.finfo(dtype).max). */
export const HALF_MAX: Readonly<Record<Half, number>> = { float16: 65504, bfloat16: halfValue(0x7f7f, 'bfloat16') };

function floatsOf(t: onnxProto.onnx.ITensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) return new Float32Array(Uint8Array.from(t.rawData).buffer);
  return Float32Array.from(t.floatData ?? []);
}

function toHalfTensor(t: onnxProto.onnx.ITensorProto, to: Half): void {
  if (t.dataType !== T.FLOAT) return;
  const max = HALF_MAX[to];
  const bits = Uint16Array.from(floatsOf(t), (x) => halfBits(Math.max(-max, Math.min(max, x)), to));
  t.dataType = to === 'float16' ? T.FLOAT16 : T.BFLOAT16;
  t.floatData = [];
  t.rawData = new Uint8Array(bits.buffer);
}

/**
 * What torch writes for `model.half()` (or `.to(torch.bfloat16)`): every float initializer and constant in
 * the half type (finfo(float32).min masks become finfo(half).min), Casts to float become Casts to the
 * half type, and the float inputs and outputs (past K/V, logits, present K/V) are declared half.
 */
export function halfExport(fp32File: string, to: Half): Uint8Array {
  const m = onnx.ModelProto.decode(readFileSync(fp32File));
  const g = m.graph!;
  const half = to === 'float16' ? T.FLOAT16 : T.BFLOAT16;
  for (const t of g.initializer ?? []) toHalfTensor(t, to);
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t && (n.opType === 'Constant' || n.opType === 'ConstantOfShape')) toHalfTensor(a.t, to);
      if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === T.FLOAT) a.i = half;
    }
  }
  for (const v of [...(g.input ?? []), ...(g.output ?? [])]) if (v.type?.tensorType?.elemType === T.FLOAT) v.type.tensorType.elemType = half;
  g.valueInfo = [];
  return onnx.ModelProto.encode(m).finish();
}

export interface Dims { readonly layers: number; readonly kvHeads: number; readonly headDim: number }

/** onnxruntime's perplexity of an export on consecutive windows of `window` ids (every position predicts the next). */
export async function ortPerplexity(model: string | Uint8Array, ids: readonly number[], window: number, dims: Dims): Promise<number> {
  const session = await ort.InferenceSession.create(model as string);
  const pastType = session.inputMetadata.find((i) => i.name === 'past_key_values.0.key');
  const halfIo = pastType?.isTensor && pastType.type === 'float16';
  let nll = 0, count = 0;
  for (let start = 0; start + window <= ids.length; start += window) {
    const w = ids.slice(start, start + window);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(w.map(BigInt)), [1, window]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(window).fill(1n), [1, window]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(w.map((_, i) => BigInt(i))), [1, window]),
    };
    for (let l = 0; l < dims.layers; l++) {
      for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = halfIo ? new ort.Tensor('float16', new Uint16Array(0), [1, dims.kvHeads, 0, dims.headDim]) : new ort.Tensor('float32', new Float32Array(0), [1, dims.kvHeads, 0, dims.headDim]);
    }
    const out = (await session.run(feeds, ['logits']))['logits']!;
    const data = out.type === 'float16' ? Float64Array.from(out.data as Uint16Array, (b) => halfValue(b, 'float16')) : Float64Array.from(out.data as Float32Array);
    const V = data.length / window;
    for (let i = 0; i + 1 < window; i++) {
      const row = data.subarray(i * V, (i + 1) * V);
      let max = -Infinity;
      for (const x of row) max = Math.max(max, x);
      let sum = 0;
      for (const x of row) sum += Math.exp(x - max);
      nll += Math.log(sum) + max - row[w[i + 1]!]!;
      count++;
    }
  }
  await session.release();
  return Math.exp(nll / count);
}
