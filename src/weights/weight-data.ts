// A weight's values as F32, wherever they live (a safetensors file or memory): shared by import, emit and runtime.
import type { Weight } from '../ir/types.js';
import { readTensorFloat32, type StTensor } from './safetensors.js';

/** A weight's values as F32 (reads and converts a file source; returns in-memory data as is). */
export function weightData(w: Weight): Float32Array {
  const s = w.source;
  return s.kind === 'data' ? s.data : readTensorFloat32(fileTensor(w)!);
}

/** Bytes of a weight as float32 (how every stage but a half-precision file holds it). */
export function float32Bytes(w: Weight): number {
  return w.shape.reduce((a, d) => a * d, 1) * 4;
}

/** A file-sourced weight as the safetensors tensor it is (null for in-memory data). */
export function fileTensor(w: Weight): StTensor | null {
  const s = w.source;
  return s.kind === 'file' ? { name: w.name, dtype: s.dtype, shape: w.shape, path: s.path, offset: s.offset, length: s.length } : null;
}
