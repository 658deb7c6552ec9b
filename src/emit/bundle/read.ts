// Reads and validates a .snn bundle: meta.json schema, every listed file present, every sha256 matching.
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { SnnError } from '../../errors/index.js';
import { CONFIG_LIMITS } from '../../ir/limits.js';
import { readSafetensorsHeader } from '../../weights/safetensors.js';
import type { Graph } from '../../ir/types.js';
import { BUNDLE_FORMAT_VERSION, FILES, GraphSchema, MetaSchema, REQUIRED_FILES, type BundleMeta } from './format.js';
import { graphFromJson } from './graph-json.js';
import { sha256File } from './hash.js';

const ConfigSchema = z.record(z.string(), z.unknown());

export interface BundleContents {
  readonly path: string;
  readonly meta: BundleMeta;
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
      throw new SnnError('BUNDLE_INVALID', { message: `the bundle has format version ${version}; this snnconvert reads version ${BUNDLE_FORMAT_VERSION}`, at: join(dir, FILES.meta), hint: 'upgrade snnconvert, or convert the model again with this version' });
    }
    return MetaSchema.safeParse(raw);
  });
  const problems: string[] = [];
  for (const f of REQUIRED_FILES) if (!(f in meta.files)) problems.push(`meta.json does not list ${f}`);
  for (const f of Object.keys(meta.files)) problems.push(...fileProblems(dir, f));
  if (problems.length) throw new SnnError('BUNDLE_INVALID', { message: `incomplete bundle: ${problems.join('; ')}`, at: dir });
  if (opts.verify ?? true) {
    const tampered = Object.entries(meta.files).filter(([f, sha]) => sha256File(join(dir, f)) !== sha).map(([f]) => f);
    if (tampered.length) throw new SnnError('BUNDLE_TAMPERED', { message: `${tampered.join(', ')} changed since the bundle was written`, at: dir });
  }
  const config = parseJson(dir, FILES.config, ConfigSchema.safeParse.bind(ConfigSchema));
  const { graph, source } = readBundleGraphs(dir);
  return { path: dir, meta, config, graph, sourceGraph: source };
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

function parseJson<T>(dir: string, file: string, parse: (v: unknown) => { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } }): T {
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
