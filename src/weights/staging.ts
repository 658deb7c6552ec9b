// F32 staging: graphs whose half-precision and large in-memory weights become float32 file ranges, so every session maps them instead of inlining them.
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnnError } from '../errors/index.js';
import { makeTempDir } from '../util/temp-paths.js';
import type { Graph, Weight } from '../ir/types.js';
import { writeSafetensors } from './safetensors.js';
import { float32Bytes, weightData } from './weight-data.js';
import { gib } from './memory.js';

/**
 * In-memory weights smaller than this stay inline in a session's model: norm scales, biases and the
 * thresholds the passes add cost less there than as a file range. Half-precision file tensors are staged
 * whatever their size (a session would convert each anyway).
 */
export const STAGE_MIN_DATA_BYTES = 1 << 20;

/** Free space kept on the staging file system beyond the staged weights. */
const STAGE_SPARE_BYTES = 256 * 1024 * 1024;

export interface StageOptions {
  /** Folder the staged file goes into (default: the OS temp folder). */
  readonly dir?: string;
  /** In-memory weights from this size on are staged (default STAGE_MIN_DATA_BYTES). */
  readonly minDataBytes?: number;
  /** Free bytes on the staging file system (default: read with statfs). */
  readonly freeBytes?: number;
}

export interface StagedWeights {
  /** The graphs, in order, with their staged weights read from `path` (the same graphs when nothing needed staging). */
  readonly graphs: readonly Graph[];
  /** The staged file, or null when every large weight was a float32 file range already. */
  readonly path: string | null;
  /** Float32 bytes written. */
  readonly bytes: number;
  /** Removes the staged file (safe to call twice). */
  readonly remove: () => void;
}

/** Whether a session would inline `w` as float32 in its model bytes instead of mapping a float32 file range. */
function needsStaging(w: Weight, minDataBytes: number): boolean {
  const s = w.source;
  return s.kind === 'file' ? s.dtype !== 'F32' : float32Bytes(w) >= minDataBytes;
}

/**
 * Writes the large weights a session cannot map (F16/BF16 checkpoint tensors, weights held in memory, as
 * from an ONNX import) once as float32, one tensor at a time, into a temp safetensors file, and returns the
 * graphs reading them there (a weight the graphs share is written once). Each session then maps them
 * (open/graph-session.ts hard-links the file) where it would otherwise convert and inline them: for a BF16
 * checkpoint, the float32 weights in this process and again in onnxruntime for every session opened
 * (bench/RESULTS.md). The file lives in `dir` (default: the OS temp folder, where sessions emit their
 * models, so links need no copy) until `remove` is called.
 */
export function stageF32Weights(graphs: readonly Graph[], opts: StageOptions = {}): StagedWeights {
  const minDataBytes = opts.minDataBytes ?? STAGE_MIN_DATA_BYTES;
  const staged = [...new Set(graphs.flatMap((g) => [...g.weights.values()].filter((w) => needsStaging(w, minDataBytes))))];
  if (staged.length === 0) return { graphs, path: null, bytes: 0, remove: () => undefined };
  const bytes = staged.reduce((a, w) => a + float32Bytes(w), 0);
  const parent = opts.dir ?? tmpdir();
  checkFreeSpace(parent, bytes, opts.freeBytes);
  const { path: dir, remove } = makeTempDir('snnconvert-f32-', parent);
  try {
    const path = join(dir, 'weights-f32.safetensors');
    // Entries by position: two graphs may hold different weights under one name.
    const written = writeSafetensors(path, staged.map((w, i) => ({ name: String(i), shape: w.shape, data: () => weightData(w) })), { format: 'pt', producer: 'snnconvert' });
    const moved = new Map(staged.map((w, i) => {
      const at = written.offsets.get(String(i))!;
      return [w, { name: w.name, shape: w.shape, source: { kind: 'file', path, offset: at.offset, length: at.length, dtype: 'F32' } } satisfies Weight] as const;
    }));
    return { graphs: graphs.map((g) => ({ ...g, weights: new Map([...g.weights].map(([name, w]) => [name, moved.get(w) ?? w])) })), path, bytes, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** Refuses before writing when the staging file system cannot hold the float32 weights. */
function checkFreeSpace(dir: string, bytes: number, known?: number): void {
  const free = known ?? freeSpace(dir);
  if (free === null) return; // no statfs here: the write itself reports a full disk (WRITE_FAILED)
  if (free >= bytes + STAGE_SPARE_BYTES) return;
  throw new SnnError('DISK_INSUFFICIENT', {
    message: `staging this model's half-precision or in-memory weights as float32 needs ${gib(bytes)} in ${dir}, which has ${gib(free)} free`,
    at: dir,
    hint: 'free space there, or point TMPDIR at a file system with room (the staged file is removed when the conversion ends)',
  });
}

function freeSpace(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}
