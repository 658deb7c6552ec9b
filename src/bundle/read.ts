// Reads and validates a .snn bundle: meta.json schema, every listed file and stored form present, every sha256 matching, T in one place.
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { SnnError } from '../errors/index.js';
import { CONFIG_LIMITS } from '../ir/limits.js';
import { readSafetensorsHeader } from '../weights/safetensors.js';
import type { Graph } from '../ir/types.js';
import { BUNDLE_FORMAT_VERSION, FILES, FORMLESS_FORMAT_VERSION, OLDEST_READ_FORMAT_VERSION, GraphSchema, MetaSchema, REQUIRED_FILES, type BundleForm, type BundleMeta } from './format.js';
import { graphFromJson } from './graph-json.js';
import { sha256File } from './hash.js';

const ConfigSchema = z.record(z.string(), z.unknown());

export interface BundleContents {
  readonly path: string;
  readonly meta: BundleMeta;
  /** T of the spiking model: graph.json's `spiking.timesteps`, the one place a bundle stores it. */
  readonly timesteps: number;
  /** The stored ONNX forms of the spiking model, model.onnx first. */
  readonly forms: readonly BundleForm[];
  readonly config: Readonly<Record<string, unknown>>;
  /** The spiking IR with weights pointing into weights.safetensors. */
  readonly graph: Graph;
  /** The source model's ANN graph (same weights): the reference of every comparison. */
  readonly sourceGraph: Graph;
}

export interface ReadBundleOptions {
  /** Check every file's sha256 against meta.json (default true). */
  readonly verify?: boolean;
}

export function readBundle(path: string, opts: ReadBundleOptions = {}): BundleContents {
  const dir = resolve(path);
  if (!existsSync(dir)) throw new SnnError('MODEL_NOT_FOUND', { message: `no file or folder at '${path}'`, at: dir, hint: 'give the path of a .snn folder written by snnconvert' });
  if (!statSync(dir).isDirectory()) throw new SnnError('BUNDLE_INVALID', { message: 'not a bundle folder', at: dir, hint: 'give the path of a .snn folder written by snnconvert' });
  const meta = parseJson(dir, FILES.meta, (raw) => {
    const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
    if (typeof version === 'number' && version > BUNDLE_FORMAT_VERSION) {
      throw new SnnError('BUNDLE_INVALID', { message: `the bundle has format version ${version}; this snnconvert reads versions ${OLDEST_READ_FORMAT_VERSION} to ${BUNDLE_FORMAT_VERSION}`, at: join(dir, FILES.meta), hint: 'upgrade snnconvert, or convert the model again with this version' });
    }
    if (version === FORMLESS_FORMAT_VERSION) throw formlessBundle(dir);
    return MetaSchema.safeParse(raw);
  });
  const problems: string[] = [];
  for (const f of REQUIRED_FILES) if (!(f in meta.files)) problems.push(`meta.json does not list ${f}`);
  for (const form of meta.forms) if (!(form.file in meta.files)) problems.push(`meta.json lists the form ${form.file} without its sha256`);
  if (meta.forms[0]?.file !== FILES.snnModel) problems.push(`meta.json's first form is ${JSON.stringify(meta.forms[0]?.file)}, not ${FILES.snnModel}`);
  checkFiles(dir, meta.files, { verify: opts.verify ?? true, problems });
  const config = parseJson(dir, FILES.config, ConfigSchema.safeParse.bind(ConfigSchema));
  const { graph, source } = readBundleGraphs(dir);
  const timesteps = graph.spiking!.timesteps;
  checkPublicTimesteps(dir, config, timesteps);
  return { path: dir, meta, config, graph, sourceGraph: source, timesteps, forms: meta.forms };
}

/**
 * Every file `files` lists is a regular file inside `dir` (else BUNDLE_INVALID, with `problems` found
 * earlier) and, when `verify`, has the listed sha256 (else BUNDLE_TAMPERED naming the files).
 */
export function checkFiles(dir: string, files: Readonly<Record<string, string>>, opts: { readonly verify: boolean; readonly problems?: readonly string[] }): void {
  const problems = [...(opts.problems ?? []), ...Object.keys(files).flatMap((f) => fileProblems(dir, f))];
  if (problems.length) throw new SnnError('BUNDLE_INVALID', { message: `incomplete bundle: ${problems.join('; ')}`, at: dir });
  if (!opts.verify) return;
  const tampered = Object.entries(files).filter(([f, sha]) => sha256File(join(dir, f)) !== sha).map(([f]) => f);
  if (tampered.length) throw new SnnError('BUNDLE_TAMPERED', { message: `${tampered.join(', ')} changed since the bundle was written`, at: dir });
}

/** A bundle written before bundles stored their forms: what it lacks, and the way to upgrade it. */
export function formlessBundle(dir: string): SnnError {
  return new SnnError('BUNDLE_INVALID', {
    message: `the bundle has format version ${FORMLESS_FORMAT_VERSION}: it predates stored ONNX forms (spike planes, step reference, portable rounding), which the runtime no longer builds itself`,
    at: join(dir, FILES.meta),
    hint: `add them with: snnconvert upgrade ${dir} (or convert the model again)`,
  });
}

/** config.json's `snn.timesteps` is public (tools read it); it is derived from graph.json and must agree. */
function checkPublicTimesteps(dir: string, config: Readonly<Record<string, unknown>>, timesteps: number): void {
  const snn = config['snn'];
  const stated = typeof snn === 'object' && snn !== null ? (snn as Record<string, unknown>)['timesteps'] : undefined;
  if (stated !== timesteps) {
    throw new SnnError('BUNDLE_INVALID', { message: `config.json states snn.timesteps ${JSON.stringify(stated)}, graph.json runs T=${timesteps}`, at: join(dir, FILES.config), hint: 'graph.json is authoritative; convert the model again' });
  }
}

/**
 * The spiking and source graphs of a bundle folder, weights pointing into its weights.safetensors.
 * Needs no meta.json, so it also reads a bundle still being written (the report at conversion).
 */
export function readBundleGraphs(dir: string): { graph: Graph; source: Graph } {
  const graphJson = parseJson(dir, FILES.graph, GraphSchema.safeParse.bind(GraphSchema));
  checkSpecBounds(dir, graphJson.spec);
  const header = readSafetensorsHeader(join(dir, FILES.weights));
  return graphFromJson(graphJson, (name, shape) => {
    const t = header.tensors.get(name);
    if (!t || t.dtype !== 'F32') throw new SnnError('BUNDLE_INVALID', { message: `weight ${name} is not an F32 tensor of weights.safetensors`, at: join(dir, FILES.weights) });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SnnError('BUNDLE_INVALID', { message: `graph.json gives weight ${name} the shape [${shape.join(', ')}], weights.safetensors holds [${t.shape.join(', ')}]`, at: join(dir, FILES.graph) });
    }
    return { name, shape, source: { kind: 'file', path: t.path, offset: t.offset, length: t.length, dtype: 'F32' } };
  });
}

export function parseJson<T>(dir: string, file: string, parse: (v: unknown) => { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } }): T {
  const p = join(dir, file);
  if (!existsSync(p)) throw new SnnError('BUNDLE_INVALID', { message: `${file} is missing`, at: dir });
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(p, 'utf8')); } catch (e) {
    throw new SnnError('BUNDLE_INVALID', { message: `${file} is not valid JSON`, at: p, cause: e });
  }
  const r = parse(raw);
  if (!r.success) throw new SnnError('BUNDLE_INVALID', { message: `${file}: ${r.error.issues.slice(0, 5).map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ')}`, at: p });
  return r.data;
}

/**
 * A file named by meta.json must be a regular file inside the bundle: no absolute path, no `..`
 * out of it, no symlink (which could point anywhere, hash and all).
 */
function fileProblems(dir: string, file: string): string[] {
  const rel = relative(dir, resolve(dir, file));
  if (isAbsolute(file) || rel === '' || isAbsolute(rel) || rel.split(sep)[0] === '..') return [`meta.json lists ${JSON.stringify(file)}, which is outside the bundle`];
  const st = lstatSync(join(dir, file), { throwIfNoEntry: false });
  if (!st) return [`${file} is missing`];
  if (st.isSymbolicLink()) return [`${file} is a symbolic link; a bundle holds its files itself`];
  if (!st.isFile()) return [`${file} is not a regular file`];
  return [];
}

/** The spec sizes the runtime allocates from (logits rows, positions) are bounded like a source config's. */
function checkSpecBounds(dir: string, spec: { vocabSize: number; maxPositions: number; hiddenSize: number; numLayers: number }): void {
  const limits: Array<[string, number, number]> = [['vocabSize', spec.vocabSize, CONFIG_LIMITS.vocab], ['maxPositions', spec.maxPositions, CONFIG_LIMITS.positions], ['hiddenSize', spec.hiddenSize, CONFIG_LIMITS.width], ['numLayers', spec.numLayers, CONFIG_LIMITS.layers]];
  const bad = limits.filter(([, v, max]) => !Number.isSafeInteger(v) || v < 1 || v > max).map(([k, v, max]) => `spec.${k} ${v} is not an integer in [1, ${max}]`);
  if (bad.length) throw new SnnError('BUNDLE_INVALID', { message: `graph.json: ${bad.join('; ')}`, at: join(dir, FILES.graph) });
}
