// Reads and validates a .snn bundle: meta.json schema, every listed file present, every sha256 matching.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SnnError } from '../../errors/index.js';
import { readSafetensorsHeader } from '../../weights/safetensors.js';
import type { Graph } from '../../ir/types.js';
import { FILES, GraphSchema, MetaSchema, REQUIRED_FILES, type BundleMeta } from './format.js';
import { graphFromJson } from './graph-json.js';
import { sha256File } from './hash.js';

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
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new SnnError('BUNDLE_INVALID', { message: 'not a bundle folder', at: dir, hint: 'give the path of a .snn folder written by snnconvert' });
  const meta = parseJson(dir, FILES.meta, MetaSchema.safeParse.bind(MetaSchema));
  const problems: string[] = [];
  for (const f of REQUIRED_FILES) if (!(f in meta.files)) problems.push(`meta.json does not list ${f}`);
  for (const f of Object.keys(meta.files)) if (!existsSync(join(dir, f))) problems.push(`${f} is missing`);
  if (problems.length) throw new SnnError('BUNDLE_INVALID', { message: `incomplete bundle: ${problems.join('; ')}`, at: dir });
  if (opts.verify ?? true) {
    const tampered = Object.entries(meta.files).filter(([f, sha]) => sha256File(join(dir, f)) !== sha).map(([f]) => f);
    if (tampered.length) throw new SnnError('BUNDLE_TAMPERED', { message: `${tampered.join(', ')} changed since the bundle was written`, at: dir });
  }
  const config = JSON.parse(readFileSync(join(dir, FILES.config), 'utf8')) as Record<string, unknown>;
  const { graph, source } = readBundleGraphs(dir);
  return { path: dir, meta, config, graph, sourceGraph: source };
}

/**
 * The spiking and source graphs of a bundle folder, weights pointing into its weights.safetensors.
 * Needs no meta.json, so it also reads a bundle still being written (the report at conversion).
 */
export function readBundleGraphs(dir: string): { graph: Graph; source: Graph } {
  const graphJson = parseJson(dir, FILES.graph, GraphSchema.safeParse.bind(GraphSchema));
  const header = readSafetensorsHeader(join(dir, FILES.weights));
  return graphFromJson(graphJson, (name, shape) => {
    const t = header.tensors.get(name);
    if (!t || t.dtype !== 'F32') throw new SnnError('BUNDLE_INVALID', { message: `weight ${name} is not an F32 tensor of weights.safetensors`, at: join(dir, FILES.weights) });
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
