// The .snn bundle: atomic writes, validation, tamper detection, --force, injected failures, timestep retargeting.
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrateTimesteps } from '../../src/calibrate/timesteps.js';
import { convert } from '../../src/convert.js';
import { readBundle } from '../../src/bundle/read.js';
import { SnnError } from '../../src/errors/index.js';
import { loadBundle } from '../../src/runtime/model.js';
import { readRawSafetensors, snnErrorOf, snnRejection, tempDir } from '../helpers.js';

const FAST = { calibration: { samples: 8, length: 64 } } as const;

describe('.snn bundle', () => {
  let dir: string;
  let bundle: string;
  beforeAll(async () => {
    dir = tempDir('snn-bundle-');
    bundle = (await convert(undefined, { ...FAST, out: join(dir, 'model.snn'), timesteps: 8 })).bundlePath;
  });

  it('holds the files of docs/design.md §4 with the sha256 of every file in meta.json', () => {
    const files = readdirSync(bundle).sort();
    expect(files).toEqual(expect.arrayContaining(['config.json', 'weights.safetensors', 'model.onnx', 'ann.onnx', 'graph.json', 'meta.json', 'tokenizer.json', 'tokenizer_config.json']));
    const meta = JSON.parse(readFileSync(join(bundle, 'meta.json'), 'utf8')) as { files: Record<string, string>; passes: { name: string }[]; recipe: string; timesteps?: number };
    expect(Object.keys(meta.files)).toEqual(expect.arrayContaining(files.filter((f) => f !== 'meta.json')));
    expect(meta.passes.map((p) => p.name)).toEqual(['layernorm-to-spike', 'attention-to-spike', 'insert-neurons', 'readout']);
    expect(meta.recipe).toBe('faithful');
    // T is stored once, in graph.json; config.json's public copy is checked against it on read.
    expect(meta.timesteps).toBeUndefined();
    expect((JSON.parse(readFileSync(join(bundle, 'graph.json'), 'utf8')) as { spiking: { timesteps: number } }).spiking.timesteps).toBe(8);
    expect(readBundle(bundle).timesteps).toBe(8);
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { model_type: string; snn: { timesteps: number; recipe: string; reset: string } };
    expect(config.model_type).toBe('gpt2');
    expect(config.snn).toMatchObject({ timesteps: 8, recipe: 'faithful', reset: 'subtract' });
  });

  it('stores every weight and one threshold per channel of every neuron site in a real safetensors file', () => {
    const tensors = readRawSafetensors(readFileSync(join(bundle, 'weights.safetensors')));
    const meta = readBundle(bundle).meta;
    expect(meta.neurons.length).toBe(29);
    for (const n of meta.neurons) {
      const t = tensors.get(`${n.site}.threshold`)!;
      expect(t.shape).toEqual([n.channels]);
      const theta = new Float32Array(t.bytes.slice().buffer);
      expect(Math.min(...theta)).toBeCloseTo(n.min, 5);
      expect(Math.max(...theta)).toBeCloseTo(n.max, 5);
    }
    expect(tensors.get('wte.weight')!.shape).toEqual([257, 128]);
  });

  it('refuses a tampered file', () => {
    const copy = join(dir, 'tampered.snn');
    cpSync(bundle, copy, { recursive: true });
    const cfg = join(copy, 'config.json');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('"recipe": "faithful"', '"recipe": "exact"'));
    const e = snnErrorOf(() => readBundle(copy));
    expect(e.code).toBe('BUNDLE_TAMPERED');
    expect(e.message).toContain('config.json');
  });

  it('refuses an incomplete bundle', async () => {
    const copy = join(dir, 'incomplete.snn');
    cpSync(bundle, copy, { recursive: true });
    rmSync(join(copy, 'model.onnx'));
    const e = await snnRejection(loadBundle(copy));
    expect(e.code).toBe('BUNDLE_INVALID');
    expect(e.message).toContain('model.onnx');
  });

  it('refuses to overwrite an existing output unless forced', async () => {
    const e = await snnRejection(convert(undefined, { ...FAST, out: bundle, timesteps: 8 }));
    expect(e.code).toBe('OUTPUT_EXISTS');
  });

  it.each(['weights', 'model', 'meta'])('leaves nothing behind when the write fails at step %s, and keeps the old bundle under --force', async (step) => {
    const before = readFileSync(join(bundle, 'meta.json'), 'utf8');
    const e = await snnRejection(convert(undefined, { ...FAST, out: bundle, timesteps: 4, force: true, onProgress: (p) => { if (p.stage === 'write' && p.message === step) throw new SnnError('WRITE_FAILED', { message: 'injected failure' }); } }));
    expect(e.message).toContain('injected failure');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(readFileSync(join(bundle, 'meta.json'), 'utf8')).toBe(before);
    expect(() => readBundle(bundle)).not.toThrow();
  });

  it('calibrateTimesteps retargets T without re-importing, and refuses a wrong originalT or a T the code cannot represent', async () => {
    const out = await calibrateTimesteps(bundle, 8, 16, { out: join(dir, 'model-T16.snn') });
    const b = await loadBundle(out);
    expect(b.timesteps).toBe(16);
    expect((await snnRejection(calibrateTimesteps(bundle, 8, 23, { out: join(dir, 'never.snn') }))).code).toBe('OPTION_INVALID');
    expect(existsSync(join(dir, 'never.snn'))).toBe(false);
    expect(b.meta.passes.at(-1)!.name).toBe('calibrate-timesteps');
    const spikes = await (await b.session(false)).run({ batch: 1, seq: 3, ids: new BigInt64Array([70n, 105n, 114n]), mask: new BigInt64Array(3).fill(1n), positions: new BigInt64Array([0n, 1n, 2n]), past: 0, cache: [] }, [b.spikeOutputs[0]!.output]);
    expect(spikes.extra.get(b.spikeOutputs[0]!.output)!.dims[0]).toBe(16);
    await b.release();
    const e = await snnRejection(calibrateTimesteps(bundle, 16, 12));
    expect(e.code).toBe('OPTION_INVALID');
  });
});

describe('convert: bad options', () => {
  it('an unknown code, levels with the weighted code, and T beyond it → OPTION_INVALID naming the allowed values', async () => {
    const bad = [{ code: 'bitplane' }, { levels: 2 }, { timesteps: 30 }] as const;
    for (const opts of bad) {
      const out = join(tempDir(), 'x.snn');
      const e = await snnRejection(convert(undefined, { ...FAST, ...opts, out }));
      expect(e.code).toBe('OPTION_INVALID');
      expect(e.message).toMatch(/weighted|levels 1|1–22/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it.each([0, -3, 1.5, 'abc'])('timesteps %s → OPTION_INVALID', async (t) => {
    const e = await snnRejection(convert(undefined, { ...FAST, timesteps: t as number, out: join(tempDir(), 'x.snn') }));
    expect(e.code).toBe('OPTION_INVALID');
    expect(e.at).toBe('--timesteps');
  });

  it('an unknown recipe lists the valid ones', async () => {
    const e = await snnRejection(convert(undefined, { ...FAST, recipe: 'magic', out: join(tempDir(), 'x.snn') }));
    expect(e.code).toBe('OPTION_INVALID');
    expect(e.message).toContain('faithful, stac, exact');
  });

  it('an unknown threshold mode lists the valid ones', async () => {
    const e = await snnRejection(convert(undefined, { ...FAST, threshold: 'p50', out: join(tempDir(), 'x.snn') }));
    expect(e.message).toContain('max, p99, p99.9, p99.99');
  });

  it('a calibration text too short for the samples asked → CALIBRATION_TEXT, nothing written', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'short.txt'), 'To be, or not to be: that is the question.');
    const out = join(d, 'x.snn');
    const e = await snnRejection(convert(undefined, { calibration: { text: join(d, 'short.txt'), samples: 4, length: 64 }, out }));
    expect(e.code).toBe('CALIBRATION_TEXT');
    expect(existsSync(out)).toBe(false);
  });
});

describe('loadBundle on a device', () => {
  it("'cuda' either runs (CUDA build installed) or fails with DEVICE_UNAVAILABLE saying how to install it", async () => {
    const { bundlePath } = await convert(undefined, { ...FAST, timesteps: 2, out: join(tempDir(), 'cuda.snn') });
    try {
      const b = await loadBundle(bundlePath, { device: 'cuda' });
      await b.release();
    } catch (e) {
      expect(e).toBeInstanceOf(SnnError);
      expect((e as SnnError).code).toBe('DEVICE_UNAVAILABLE');
      expect((e as SnnError).hint).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
    }
  });

  it('an unknown device is an option error listing the valid ones', async () => {
    const { bundlePath } = await convert(undefined, { ...FAST, timesteps: 2, out: join(tempDir(), 'dev.snn') });
    const e = await snnRejection(loadBundle(bundlePath, { device: 'tpu' as 'cpu' }));
    expect(e.code).toBe('OPTION_INVALID');
    expect(e.message).toContain('cpu, webgpu, cuda, auto');
  });
});
