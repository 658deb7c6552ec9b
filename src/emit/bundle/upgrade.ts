// `snnconvert upgrade`: adds the stored ONNX forms to a bundle written before bundles carried them (format 1 → 2).
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, FILES, FORMLESS_FORMAT_VERSION, formsFor, MetaSchema, type BundleMeta } from '../../bundle/format.js';
import { sha256File } from '../../bundle/hash.js';
import { checkFiles, parseJson, readBundle, readBundleGraphs } from '../../bundle/read.js';
import { SnnError } from '../../errors/index.js';
import type { Weight } from '../../ir/types.js';
import type { WeightPlacement } from '../lower.js';
import { writeForms } from './forms.js';

/** meta.json of format 1: the current fields, without `forms`, with T (now read from graph.json alone). */
const FormlessMetaSchema = MetaSchema.omit({ formatVersion: true, forms: true }).extend({ formatVersion: z.literal(FORMLESS_FORMAT_VERSION), timesteps: z.number().int().positive() });

export interface UpgradeResult {
  readonly path: string;
  /** False when the bundle already had the current format (nothing written). */
  readonly upgraded: boolean;
  /** Files written: every form (model.onnx rewritten with its synapse integers external) and synapses.bin. */
  readonly written: readonly string[];
}

/**
 * Verifies a format-1 bundle (the sha256 of every file it keeps), emits its forms from graph.json into
 * a temp folder inside it, moves them in, then rewrites meta.json (temp + rename) last. Cut short, the
 * bundle stays format 1 and upgrade can run again.
 * @example
 * await upgradeBundle('shakespeare.snn'); // loadBundle('shakespeare.snn') then runs its stored forms
 */
export async function upgradeBundle(path: string): Promise<UpgradeResult> {
  const dir = resolve(path);
  const raw = parseJson(dir, FILES.meta, (v) => z.object({ formatVersion: z.unknown() }).passthrough().safeParse(v));
  if (raw.formatVersion !== FORMLESS_FORMAT_VERSION) {
    readBundle(dir); // a current bundle is checked as loadBundle checks it; anything else is refused there
    return { path: dir, upgraded: false, written: [] };
  }
  const old = parseJson(dir, FILES.meta, FormlessMetaSchema.safeParse.bind(FormlessMetaSchema));
  // The files upgrade writes are not verified (they are replaced), so an upgrade cut short can run again.
  const rewritten = new Set([...formsFor('weighted'), ...formsFor('rate')].map((f) => f.file).concat(FILES.synapses));
  checkFiles(dir, Object.fromEntries(Object.entries(old.files).filter(([f]) => !rewritten.has(f))), { verify: true });
  const { graph } = readBundleGraphs(dir);
  if (graph.spiking!.timesteps !== old.timesteps) {
    throw new SnnError('BUNDLE_INVALID', { message: `meta.json states T=${old.timesteps}, graph.json runs T=${graph.spiking!.timesteps}`, at: join(dir, FILES.meta), hint: 'convert the model again' });
  }
  const temp = mkdtempSync(join(dir, '.upgrade-'));
  try {
    const { forms, files } = await writeForms(temp, graph, placeInWeightsFile);
    for (const f of files) renameSync(join(temp, f), join(dir, f));
    const { timesteps: _t, ...kept } = old;
    const meta: BundleMeta = {
      ...kept, format: BUNDLE_FORMAT, formatVersion: BUNDLE_FORMAT_VERSION, forms: [...forms],
      files: { ...old.files, ...Object.fromEntries(files.map((f) => [f, sha256File(join(dir, f))])) },
    };
    const metaTemp = join(temp, FILES.meta);
    writeFileSync(metaTemp, JSON.stringify(meta, null, 2));
    renameSync(metaTemp, join(dir, FILES.meta));
    return { path: dir, upgraded: true, written: files };
  } finally {
    if (existsSync(temp)) rmSync(temp, { recursive: true, force: true });
  }
}

/** A bundle's weights are F32 tensors of its weights.safetensors: every form references them there. */
function placeInWeightsFile(w: Weight): WeightPlacement {
  const s = w.source;
  if (s.kind !== 'file') throw new Error(`weight ${w.name} is not read from weights.safetensors`);
  return { external: { location: FILES.weights, offset: s.offset, length: s.length } };
}
