// A weight's values as F32, wherever they live (a safetensors file or memory): shared by import, emit and runtime.
import type { Weight } from '../ir/types.js';
import { readTensorFloat32 } from './safetensors.js';

/** A weight's values as F32 (reads and converts a file source; returns in-memory data as is). */
export function weightData(w: Weight): Float32Array {
  const s = w.source;
  if (s.kind === 'data') return s.data;
  return readTensorFloat32({ name: w.name, dtype: s.dtype, shape: w.shape, path: s.path, offset: s.offset, length: s.length });
}
