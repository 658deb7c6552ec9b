// F32 staging: half-precision and large in-memory weights written once as float32 file ranges, the same values, nothing left behind.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { importHfModel } from '../../src/import/hf/index.js';
import type { Graph, Weight } from '../../src/ir/types.js';
import { openGraphSession } from '../../src/open/graph-session.js';
import { loadHfAnn } from '../../src/open/hf-ann.js';
import { windowInput } from '../../src/runtime/windows.js';
import { readSafetensorsHeader, readTensorFloat32 } from '../../src/weights/safetensors.js';
import { float32WeightBytes } from '../../src/weights/memory.js';
import { stageF32Weights } from '../../src/weights/staging.js';
import { weightData } from '../../src/weights/weight-data.js';
import { GPT2_DIR, halfPrecisionCopy, snnErrorOf, tempDir } from '../helpers.js';

const halfCopy = (dtype: 'F16' | 'BF16') => halfPrecisionCopy(GPT2_DIR, dtype);
const staging = (parent: string) => readdirSync(parent).filter((f) => f.startsWith('snnconvert-f32-'));

describe('stageF32Weights', () => {
  it.each(['BF16', 'F16'] as const)('moves every %s tensor to one float32 file, value for value, and removes it', (dtype) => {
    const graph = importHfModel(halfCopy(dtype)).graph;
    const parent = tempDir('snn-stage-');
    const staged = stageF32Weights([graph], { dir: parent });
    const [moved] = staged.graphs as [Graph];
    expect(staged.path).not.toBeNull();
    expect(staged.bytes).toBe(float32WeightBytes(graph));
    expect(readSafetensorsHeader(staged.path!).tensors.size).toBe(graph.weights.size);
    for (const w of graph.weights.values()) {
      const s = moved.weights.get(w.name)!;
      expect(s.source).toMatchObject({ kind: 'file', dtype: 'F32', path: staged.path });
      expect(s.shape).toEqual(w.shape);
      expect(Buffer.from(weightData(s).buffer).equals(Buffer.from(weightData(w).buffer)), w.name).toBe(true);
    }
    expect(staging(parent)).toHaveLength(1);
    staged.remove();
    staged.remove();
    expect(staging(parent)).toEqual([]);
  });

  it('leaves float32 file weights and small in-memory weights where they are, and writes a shared weight once', () => {
    const graph = importHfModel(GPT2_DIR).graph;
    const parent = tempDir('snn-stage-');
    const none = stageF32Weights([graph], { dir: parent });
    expect(none.path).toBeNull();
    expect(none.graphs[0]).toBe(graph);
    expect(staging(parent)).toEqual([]);

    const big: Weight = { name: 'big', shape: [64, 8], source: { kind: 'data', data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(i)) } };
    const small: Weight = { name: 'small', shape: [4], source: { kind: 'data', data: new Float32Array([1, 2, 3, 4]) } };
    const a: Graph = { ...graph, weights: new Map([...graph.weights, ['big', big], ['small', small]]) };
    const b: Graph = { ...graph, weights: new Map([['big', big]]) };
    const staged = stageF32Weights([a, b], { dir: parent, minDataBytes: 1024 });
    expect(staged.bytes).toBe(512 * 4);
    const [sa, sb] = staged.graphs as [Graph, Graph];
    expect(sa.weights.get('big')!.source).toEqual(sb.weights.get('big')!.source);
    expect(readTensorFloat32({ ...(sa.weights.get('big')!.source as { path: string; offset: number; length: number }), name: 'big', dtype: 'F32', shape: [64, 8] })).toEqual(big.source.kind === 'data' ? big.source.data : null);
    expect(sa.weights.get('small')).toBe(small);
    expect(sa.weights.get('wte.weight')).toBe(graph.weights.get('wte.weight'));
    staged.remove();
  });

  it('refuses with DISK_INSUFFICIENT, naming the size and TMPDIR, before writing anything', () => {
    const graph = importHfModel(halfCopy('BF16')).graph;
    const parent = tempDir('snn-stage-');
    const e = snnErrorOf(() => stageF32Weights([graph], { dir: parent, freeBytes: 1024 }));
    expect(e.code).toBe('DISK_INSUFFICIENT');
    expect(e.message).toMatch(/needs 0\.00 GiB in .*, which has 0\.00 GiB free/);
    expect(e.at).toBe(parent);
    expect(e.hint).toContain('TMPDIR');
    expect(staging(parent)).toEqual([]);
  });

  it('a session over the staged graph gives the logits of the session that inlines the half-precision weights, bit for bit', async () => {
    const graph = importHfModel(halfCopy('BF16')).graph;
    const staged = stageF32Weights([graph], { dir: tempDir('snn-stage-') });
    const ids = [...readFileSync(join(GPT2_DIR, 'heldout.txt')).subarray(0, 48)];
    const logits = async (g: Graph) => {
      const session = await openGraphSession(g, 'ann');
      try { return (await session.run(windowInput(ids, [0], ids.length))).logits; } finally { await session.release(); }
    };
    const inline = await logits(graph);
    const mapped = await logits(staged.graphs[0]!);
    staged.remove();
    expect(Buffer.from(mapped.buffer).equals(Buffer.from(inline.buffer))).toBe(true);
  });
});

describe('convert() with a half-precision checkpoint', () => {
  let saved: string | undefined;
  let tmp: string;
  beforeEach(() => { saved = process.env['TMPDIR']; tmp = tempDir('snn-tmpdir-'); process.env['TMPDIR'] = tmp; });
  afterEach(() => { if (saved === undefined) delete process.env['TMPDIR']; else process.env['TMPDIR'] = saved; });

  it('stages the weights, says so, stores them widened exactly in the bundle, and leaves no staged file', async () => {
    const dir = halfCopy('BF16');
    const messages: string[] = [];
    const out = join(tempDir('snn-bf16-out-'), 'm.snn');
    await convert(dir, { out, timesteps: 4, calibration: { samples: 2, length: 32 }, onProgress: (p) => messages.push(p.message) });
    expect(messages.some((m) => /^staged 0\.00 GiB of half-precision or in-memory weights as float32/.test(m))).toBe(true);
    expect(staging(tmp)).toEqual([]);
    const stored = readSafetensorsHeader(join(out, 'weights.safetensors')).tensors;
    const source = importHfModel(dir).graph;
    const wte = stored.get('wte.weight')!;
    expect(Buffer.from(readTensorFloat32(wte).buffer).equals(Buffer.from(weightData(source.weights.get('wte.weight')!).buffer))).toBe(true);
  });

  it('removes the staged file when the conversion fails after staging', async () => {
    const out = join(tempDir('snn-bf16-out-'), 'm.snn');
    const messages: string[] = [];
    const err = await convert(halfCopy('BF16'), { out, timesteps: 4, calibration: { source: 'corpus', text: join(tmp, 'missing.txt'), samples: 2, length: 32 }, onProgress: (p) => messages.push(p.message) }).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'TEXT_INVALID' });
    expect(messages.some((m) => m.startsWith('staged '))).toBe(true);
    expect(staging(tmp)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });
});

describe('the source ANN of a half-precision folder (--ann-only)', () => {
  it('maps staged float32 weights, drops the staged file once the session is open, and gives the inlined session\'s logits', async () => {
    const saved = process.env['TMPDIR'];
    const tmp = tempDir('snn-tmpdir-');
    process.env['TMPDIR'] = tmp;
    try {
      const dir = halfCopy('BF16');
      const ids = [...readFileSync(join(GPT2_DIR, 'heldout.txt')).subarray(0, 40)];
      const model = await loadHfAnn(dir);
      const session = await model.session(true);
      expect(model.stagedBytes).toBe(float32WeightBytes(importHfModel(dir).graph));
      expect(staging(tmp)).toEqual([]);
      const mapped = (await session.run(windowInput(ids, [0], ids.length))).logits;
      await model.release();
      const f32 = await loadHfAnn(GPT2_DIR);
      await f32.session(true);
      expect(f32.stagedBytes).toBe(0);
      await f32.release();
      const inline = await openGraphSession(importHfModel(dir).graph, 'ann');
      const expected = (await inline.run(windowInput(ids, [0], ids.length))).logits;
      await inline.release();
      expect(Buffer.from(mapped.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env['TMPDIR']; else process.env['TMPDIR'] = saved;
    }
  });
});

