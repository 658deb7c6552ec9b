// The bundle carries every form it runs: written at conversion, hashed, weights shared; refused when missing or changed; format 1 upgraded.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILES, formsFor } from '../../src/bundle/format.js';
import { sha256File } from '../../src/bundle/hash.js';
import { readBundle } from '../../src/bundle/read.js';
import { convert } from '../../src/convert.js';
import { upgradeBundle } from '../../src/emit/bundle/upgrade.js';
import { emitOnnx } from '../../src/emit/lower.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { createSession, kvOutputNames, ModelSession } from '../../src/runtime/session.js';
import { windowInput } from '../../src/runtime/windows.js';
import { CLI, GPT2_DIR, snnErrorOf, snnRejection, tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const FAST = { calibration: { samples: 8, length: 64 } } as const;
const HELDOUT = [...readFileSync(join(GPT2_DIR, 'heldout.txt'))].slice(1000, 1064);
const WEIGHTED_FORMS = formsFor('weighted').map((f) => f.file);

/** Rewrites meta.json's sha256 of `files` (a test that edits a file on purpose, then checks a later guard). */
function rehash(dir: string, files: readonly string[]): void {
  const metaPath = join(dir, FILES.meta);
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { files: Record<string, string> };
  for (const f of files) meta.files[f] = sha256File(join(dir, f));
  writeFileSync(metaPath, JSON.stringify(meta, null, 2));
}

async function logitsOf(bundle: Bundle): Promise<Float32Array> {
  return (await (await bundle.session(false)).run(windowInput(HELDOUT, [0], HELDOUT.length))).logits;
}

describe('stored forms (weighted code)', () => {
  let dir: string;
  let path: string;
  let bundle: Bundle;
  beforeAll(async () => {
    dir = tempDir('snn-forms-');
    path = (await convert(undefined, { ...FAST, out: join(dir, 'model.snn') })).bundlePath;
    bundle = await loadBundle(path);
  });
  afterAll(async () => { await bundle?.release(); });

  it('meta.json lists every form, model.onnx first, each hashed like every other file', () => {
    const meta = readBundle(path).meta;
    expect(meta.formatVersion).toBe(3);
    expect(meta.forms.map((f) => f.file)).toEqual(WEIGHTED_FORMS);
    expect(meta.forms.map((f) => `${f.execution}/${f.spikes ? 'spikes' : 'bare'}/${f.rounding}`)).toEqual([
      'closed/bare/native', 'closed/spikes/native', 'steps/spikes/native', 'closed/bare/portable', 'closed/spikes/portable', 'steps/spikes/portable',
    ]);
    for (const f of [...WEIGHTED_FORMS, FILES.synapses]) expect(meta.files[f], f).toBe(sha256File(join(path, f)));
  });

  it('stores integer synapses as INT8 planes that model.onnx multiplies with MatMulInteger; a bundle of format 2 still reads', async () => {
    const model = onnx.ModelProto.decode(readFileSync(join(path, FILES.snnModel))).graph!;
    const planes = model.initializer!.filter((t) => /\.synapse\.plane[01]$/.test(t.name!));
    expect(planes.length).toBeGreaterThan(0);
    for (const t of planes) expect(t.dataType).toBe(onnx.TensorProto.DataType.INT8);
    expect(model.node!.filter((n) => n.opType === 'MatMulInteger').length).toBeGreaterThanOrEqual(planes.length);
    const portable = onnx.ModelProto.decode(readFileSync(join(path, 'model-portable.onnx'))).graph!;
    expect(portable.node!.some((n) => n.opType === 'MatMulInteger')).toBe(false);
    // Format 2 differs only in how synapses.bin lays out the integers, which its own forms reference: it is read as it is.
    const older = join(tempDir('snn-format2-'), 'model.snn');
    cpSync(path, older, { recursive: true });
    const metaPath = join(older, FILES.meta);
    writeFileSync(metaPath, JSON.stringify({ ...JSON.parse(readFileSync(metaPath, 'utf8')), formatVersion: 2 }));
    const reopened = await loadBundle(older);
    try {
      expect(reopened.meta.formatVersion).toBe(2);
      expect(await logitsOf(reopened)).toEqual(await logitsOf(bundle));
    } finally {
      await reopened.release();
    }
  });

  it('extra forms cost only graph bytes: every initializer over 1 KiB is external data in weights.safetensors or synapses.bin', () => {
    for (const file of WEIGHTED_FORMS) {
      const inits = onnx.ModelProto.decode(readFileSync(join(path, file))).graph!.initializer!;
      const inline = inits.filter((t) => (t.rawData?.length ?? 0) > 1024).map((t) => t.name);
      expect(inline, `${file}: large inline initializers`).toEqual([]);
      const locations = new Set(inits.flatMap((t) => (t.externalData ?? []).filter((e) => e.key === 'location').map((e) => e.value)));
      expect([...locations].sort(), file).toEqual([FILES.synapses, FILES.weights]);
      expect(statSync(join(path, file)).size, file).toBeLessThan(statSync(join(path, FILES.weights)).size / 4);
    }
  });

  it('the portable-rounding forms (no Round, no Sign) give the closed form\'s logits and spike planes bit for bit on the CPU', async () => {
    const ops = (file: string) => new Set(onnx.ModelProto.decode(readFileSync(join(path, file))).graph!.node!.map((n) => n.opType));
    for (const file of ['model-portable.onnx', 'model-portable-spikes.onnx', 'model-steps-portable.onnx']) {
      expect(ops(file).has('Round'), file).toBe(false);
      expect(ops(file).has('Sign'), file).toBe(false);
    }
    expect(ops('model.onnx').has('Round')).toBe(true);
    const spec = bundle.spec;
    const open = async (file: string) => new ModelSession(spec, await createSession(join(path, file), 'cpu', false, kvOutputNames(spec)), bundle.timesteps, [], 'cpu');
    const outputs = bundle.spikeOutputs.map((s) => s.output);
    const native = await (await open('model-spikes.onnx')).run(windowInput(HELDOUT, [0], HELDOUT.length), outputs);
    const portable = await (await open('model-portable-spikes.onnx')).run(windowInput(HELDOUT, [0], HELDOUT.length), outputs);
    expect(Buffer.from(portable.logits.buffer).equals(Buffer.from(native.logits.buffer))).toBe(true);
    let events = 0;
    for (const o of outputs) {
      const a = native.extra.get(o)!.data, b = portable.extra.get(o)!.data;
      for (let i = 0; i < a.length; i++) { if (a[i] !== 0) events += 1; expect(b[i], o).toBe(a[i]); }
    }
    expect(events).toBeGreaterThan(0);
  });

  it('loadBundle runs model.onnx by default and the stored step form with simulate: steps', async () => {
    expect(bundle.form.file).toBe(FILES.snnModel);
    const steps = await loadBundle(path, { simulate: 'steps' });
    try {
      expect(steps.form.file).toBe('model-steps.onnx');
      expect(Buffer.from((await logitsOf(steps)).buffer).equals(Buffer.from((await logitsOf(bundle)).buffer))).toBe(true);
    } finally {
      await steps.release();
    }
  });

  it.each(['model-steps.onnx', 'model-portable.onnx', FILES.synapses])('a missing %s → BUNDLE_INVALID naming it', async (file) => {
    const copy = join(dir, `missing-${file}.snn`);
    cpSync(path, copy, { recursive: true });
    rmSync(join(copy, file));
    const e = await snnRejection(loadBundle(copy));
    expect(e.code).toBe('BUNDLE_INVALID');
    expect(e.message).toContain(`${file} is missing`);
  });

  it('a changed form → BUNDLE_TAMPERED naming it', async () => {
    const copy = join(dir, 'changed.snn');
    cpSync(path, copy, { recursive: true });
    const file = join(copy, 'model-spikes.onnx');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    const e = await snnRejection(loadBundle(copy));
    expect(e.code).toBe('BUNDLE_TAMPERED');
    expect(e.message).toContain('model-spikes.onnx');
  });

  it('a form meta.json lists without its sha256 → BUNDLE_INVALID naming it', async () => {
    const copy = join(dir, 'unhashed.snn');
    cpSync(path, copy, { recursive: true });
    const metaPath = join(copy, FILES.meta);
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { files: Record<string, string> };
    delete meta.files['model-steps-portable.onnx'];
    writeFileSync(metaPath, JSON.stringify(meta));
    const e = await snnRejection(loadBundle(copy));
    expect(e.code).toBe('BUNDLE_INVALID');
    expect(e.message).toContain('model-steps-portable.onnx');
  });

  it('T lives in graph.json; a config.json that states another T → BUNDLE_INVALID naming config.json', () => {
    const copy = join(dir, 'other-t.snn');
    cpSync(path, copy, { recursive: true });
    const cfg = join(copy, FILES.config);
    const config = JSON.parse(readFileSync(cfg, 'utf8')) as { snn: { timesteps: number } };
    expect(config.snn.timesteps).toBe(bundle.timesteps);
    config.snn.timesteps = bundle.timesteps + 1;
    writeFileSync(cfg, JSON.stringify(config));
    rehash(copy, [FILES.config]);
    const e = snnErrorOf(() => readBundle(copy));
    expect(e.code).toBe('BUNDLE_INVALID');
    expect(e.at).toContain(FILES.config);
    expect(e.message).toContain(`graph.json runs T=${bundle.timesteps}`);
  });

  describe('a bundle of format 1 (no stored forms)', () => {
    let old: string;
    beforeAll(() => {
      // What the previous snnconvert wrote: model.onnx alone, its synapse integers inline, T in meta.json.
      old = join(dir, 'format1.snn');
      cpSync(path, old, { recursive: true });
      for (const f of [...WEIGHTED_FORMS.slice(1), FILES.synapses]) rmSync(join(old, f));
      const contents = readBundle(path);
      const placeWeight = (w: { readonly name: string }) => {
        const s = contents.graph.weights.get(w.name)!.source;
        if (s.kind !== 'file') throw new Error('bundle weights are file-backed');
        return { external: { location: FILES.weights, offset: s.offset, length: s.length } };
      };
      writeFileSync(join(old, FILES.snnModel), emitOnnx(contents.graph, { mode: 'snn', placeWeight }).bytes);
      const metaPath = join(old, FILES.meta);
      const { forms: _f, files, ...meta } = JSON.parse(readFileSync(metaPath, 'utf8')) as { forms: unknown; files: Record<string, string> };
      const kept = Object.fromEntries(Object.keys(files).filter((f) => f === FILES.snnModel || !WEIGHTED_FORMS.includes(f) && f !== FILES.synapses).map((f) => [f, sha256File(join(old, f))]));
      writeFileSync(metaPath, JSON.stringify({ ...meta, formatVersion: 1, timesteps: contents.timesteps, files: kept }));
    });

    it('loadBundle refuses it with BUNDLE_INVALID saying how to upgrade it', async () => {
      const e = await snnRejection(loadBundle(old));
      expect(e.code).toBe('BUNDLE_INVALID');
      expect(e.message).toContain('format version 1');
      expect(e.hint).toContain(`snnconvert upgrade ${old}`);
    });

    it('a changed file is still refused by upgrade (BUNDLE_TAMPERED), and nothing is written', async () => {
      const copy = join(dir, 'format1-tampered.snn');
      cpSync(old, copy, { recursive: true });
      writeFileSync(join(copy, 'tokenizer_config.json'), '{}');
      const e = await snnRejection(upgradeBundle(copy));
      expect(e.code).toBe('BUNDLE_TAMPERED');
      expect(e.message).toContain('tokenizer_config.json');
      expect(() => statSync(join(copy, 'model-steps.onnx'))).toThrow();
    });

    it('`snnconvert upgrade` writes the forms a fresh conversion writes, byte for byte, and the bundle then runs with the same logits', async () => {
      const r = spawnSync(process.execPath, [CLI, 'upgrade', old, '--json'], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect((JSON.parse(r.stdout) as { upgraded: boolean }).upgraded).toBe(true);
      for (const f of [...WEIGHTED_FORMS, FILES.synapses]) expect(sha256File(join(old, f)), f).toBe(sha256File(join(path, f)));
      const upgraded = await loadBundle(old);
      try {
        expect(Buffer.from((await logitsOf(upgraded)).buffer).equals(Buffer.from((await logitsOf(bundle)).buffer))).toBe(true);
      } finally {
        await upgraded.release();
      }
      expect((await upgradeBundle(old)).upgraded).toBe(false);
    });
  });
});
