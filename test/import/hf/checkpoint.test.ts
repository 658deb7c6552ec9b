// Opening HF weight folders: single file, sharded with an index, and every way the two can disagree.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { snnErrorOf } from '../../helpers.js';
import { openCheckpoint, requireTensor } from '../../../src/import/hf/checkpoint.js';
import { readTensorFloat32, writeSafetensors } from '../../../src/weights/safetensors.js';

const root = mkdtempSync(join(tmpdir(), 'snn-checkpoint-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folderNumber = 0;

function folder(): string {
  const dir = join(root, `model-${folderNumber++}`);
  mkdirSync(dir);
  return dir;
}

/** Writes a safetensors file whose tensors hold [value, value] each. */
function weights(path: string, tensors: Readonly<Record<string, number>>): void {
  writeSafetensors(
    path,
    Object.entries(tensors).map(([name, value]) => ({ name, shape: [2], data: () => new Float32Array([value, value]) })),
  );
}

function index(dir: string, weightMap: Readonly<Record<string, string>>): string {
  const path = join(dir, 'model.safetensors.index.json');
  writeFileSync(path, JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  return path;
}

/** A two-shard checkpoint: a and b in the first shard, c in the second. */
function sharded(): string {
  const dir = folder();
  weights(join(dir, 'model-00001-of-00002.safetensors'), { a: 1, b: 2 });
  weights(join(dir, 'model-00002-of-00002.safetensors'), { c: 3 });
  index(dir, { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' });
  return dir;
}

describe('openCheckpoint', () => {
  it('reads a single model.safetensors', () => {
    const dir = folder();
    weights(join(dir, 'model.safetensors'), { x: 5 });
    const ck = openCheckpoint(dir);
    expect(ck.dir).toBe(dir);
    expect(ck.files).toEqual([join(dir, 'model.safetensors')]);
    expect(Array.from(readTensorFloat32(requireTensor(ck, ['x'])))).toEqual([5, 5]);
  });

  it('reads a sharded checkpoint, each tensor pointing into its own shard', () => {
    const dir = sharded();
    const ck = openCheckpoint(dir);
    expect(ck.files).toEqual([join(dir, 'model-00001-of-00002.safetensors'), join(dir, 'model-00002-of-00002.safetensors')]);
    expect([...ck.tensors.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(ck.tensors.get('c')?.path).toBe(join(dir, 'model-00002-of-00002.safetensors'));
    expect(Array.from(readTensorFloat32(requireTensor(ck, ['c'])))).toEqual([3, 3]);
  });

  it('prefers model.safetensors when an index is present too, as transformers does', () => {
    const dir = sharded();
    weights(join(dir, 'model.safetensors'), { single: 1 });
    expect([...openCheckpoint(dir).tensors.keys()]).toEqual(['single']);
  });

  it('names the folder when it holds no weights', () => {
    const dir = folder();
    const error = snnErrorOf(() => openCheckpoint(dir));
    expect(error.code).toBe('WEIGHTS_MISSING');
    expect(error.render()).toContain(dir);
  });

  it('tells the user to re-save PyTorch-only weights as safetensors', () => {
    const dir = folder();
    writeFileSync(join(dir, 'pytorch_model.bin'), 'not read');
    const error = snnErrorOf(() => openCheckpoint(dir));
    expect(error.code).toBe('WEIGHTS_MISSING');
    expect(error.hint).toContain('pytorch_model.bin');
    expect(error.hint).toContain('safe_serialization');
  });

  it('names a folder that does not exist', () => {
    const dir = join(root, 'nowhere');
    const error = snnErrorOf(() => openCheckpoint(dir));
    expect(error.code).toBe('WEIGHTS_MISSING');
    expect(error.message).toContain(dir);
  });

  it('names a missing shard', () => {
    const dir = sharded();
    rmSync(join(dir, 'model-00002-of-00002.safetensors'));
    const error = snnErrorOf(() => openCheckpoint(dir));
    expect(error.code).toBe('WEIGHTS_MISSING');
    expect(error.message).toContain('model-00002-of-00002.safetensors');
    expect(error.at).toBe(join(dir, 'model.safetensors.index.json'));
  });

  it('names a tensor the index puts in a shard that does not hold it', () => {
    const dir = sharded();
    index(dir, { a: 'model-00001-of-00002.safetensors', c: 'model-00001-of-00002.safetensors' });
    const error = snnErrorOf(() => openCheckpoint(dir));
    expect(error.code).toBe('SAFETENSORS_INVALID');
    expect(error.message).toContain('"c"');
    expect(error.message).toContain('model-00001-of-00002.safetensors');
    expect(error.render()).toContain('model.safetensors.index.json');
  });

  it('refuses shard names that escape the folder', () => {
    const dir = sharded();
    index(dir, { a: '../model-0/model.safetensors', b: '/etc/hostname' });
    const error = snnErrorOf(() => openCheckpoint(dir));
    expect(error.code).toBe('SAFETENSORS_INVALID');
    expect(error.message).toContain('"../model-0/model.safetensors"');
    expect(error.message).toContain('"/etc/hostname"');
  });

  it('refuses an index that is not JSON or has no weight_map', () => {
    const dir = folder();
    const path = join(dir, 'model.safetensors.index.json');
    writeFileSync(path, '{"weight_map": ');
    expect(snnErrorOf(() => openCheckpoint(dir)).code).toBe('SAFETENSORS_INVALID');
    writeFileSync(path, JSON.stringify({ metadata: {} }));
    const error = snnErrorOf(() => openCheckpoint(dir));
    expect(error.code).toBe('SAFETENSORS_INVALID');
    expect(error.message).toContain('weight_map');
    expect(error.at).toBe(path);
  });

  it('reports a damaged shard by its own file name', () => {
    const dir = sharded();
    const shard = join(dir, 'model-00002-of-00002.safetensors');
    writeFileSync(shard, Buffer.from([1, 2, 3]));
    const error = snnErrorOf(() => openCheckpoint(dir));
    expect(error.code).toBe('SAFETENSORS_INVALID');
    expect(error.at).toBe(shard);
  });
});

describe('requireTensor', () => {
  it('returns the first alias present', () => {
    const ck = openCheckpoint(sharded());
    expect(requireTensor(ck, ['transformer.a', 'b', 'a']).name).toBe('b');
  });

  it('lists every name tried and similar names when none is present', () => {
    const dir = folder();
    weights(join(dir, 'model.safetensors'), { 'model.wte.weight': 1 });
    const error = snnErrorOf(() => requireTensor(openCheckpoint(dir), ['transformer.wte.weight', 'wte.weight']));
    expect(error.code).toBe('TENSOR_MISSING');
    expect(error.message).toContain('"transformer.wte.weight", "wte.weight"');
    expect(error.message).toContain('similar names present: "model.wte.weight"');
    expect(error.at).toBe(dir);
  });
});
