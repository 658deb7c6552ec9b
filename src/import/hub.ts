// Resolves the `<model>` argument to something on disk: a path, the HF cache, or a hub download.
import { createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { downloadFile, listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';
import { SnnError } from '../errors/index.js';

export interface ResolveOptions {
  /** Branch, tag or 40-hex commit of a hub model. Default `main`. */
  readonly revision?: string;
  /** Never download; also on when the environment has HF_HUB_OFFLINE=1. */
  readonly offline?: boolean;
  /** The HF hub cache; default {@link hfCacheDir}. */
  readonly cacheDir?: string;
  readonly onProgress?: (msg: string) => void;
  /** The fetch that hub requests go through (a proxy, or a fake in tests). Default: global fetch. */
  readonly fetch?: typeof fetch;
}

export type ResolvedModel =
  | { readonly kind: 'hf-dir'; readonly path: string; readonly source: { readonly id: string; readonly revision: string | null } }
  | { readonly kind: 'onnx'; readonly path: string; readonly source: { readonly id: string; readonly revision: null } }
  | { readonly kind: 'bundle'; readonly path: string; readonly source: { readonly id: string; readonly revision: null } };

const HUB_ID = /^[\w.-]+(\/[\w.-]+)?$/;
const COMMIT = /^[0-9a-f]{40}$/;
const REVISION = /^[\w.\/-]+$/;
/** Root files a conversion needs; everything else in a repo (onnx/, *.bin, README) is left on the hub. */
const WANTED_FILES = [
  /^config\.json$/, /^generation_config\.json$/, /^tokenizer\.json$/, /^tokenizer_config\.json$/,
  /^special_tokens_map\.json$/, /^chat_template\.jinja$/, /\.safetensors$/, /^model\.safetensors\.index\.json$/,
];

/**
 * The HF hub cache folder, found the way huggingface_hub finds it.
 *
 * @example
 * hfCacheDir({ HF_HOME: '/data/hf' }); // '/data/hf/hub'
 */
export function hfCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['HF_HUB_CACHE'] ?? env['HUGGINGFACE_HUB_CACHE'];
  if (explicit) return resolve(expandHome(explicit));
  const home = env['HF_HOME'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'huggingface');
  return resolve(expandHome(home), 'hub');
}

/**
 * Finds the model that `model` names: a `.snn` bundle, an `.onnx` file, a HF model folder, or a hub
 * id (`ORG/NAME`) looked up in the HF cache and, unless offline, downloaded into it. A cached
 * snapshot is used as it is: the hub is not asked whether the branch has moved on.
 *
 * @example
 * const m = await resolveModel('HuggingFaceTB/SmolLM2-135M-Instruct', { offline: true });
 * if (m.kind === 'hf-dir') console.log(m.path, m.source.revision);
 */
export async function resolveModel(model: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const local = expandHome(model);
  if (existsSync(local)) return classifyLocal(resolve(local));
  if (/^(\.{1,2}[\\/]|[\\/]|~)/.test(model) || /\.(onnx|snn)$/i.test(model)) {
    throw new SnnError('MODEL_NOT_FOUND', { message: `no file or folder at '${model}'`, at: resolve(local) });
  }
  if (!HUB_ID.test(model) || model.includes('..') || model.includes('--')) {
    throw new SnnError('MODEL_NOT_FOUND', {
      message: `'${model}' is neither an existing path nor a hub id of the form ORG/NAME`,
      at: model,
    });
  }
  return resolveHubModel(model, opts);
}

function classifyLocal(path: string): ResolvedModel {
  const isDir = statSync(path).isDirectory();
  if (/\.snn$/i.test(path)) {
    if (isDir && existsSync(join(path, 'meta.json'))) return { kind: 'bundle', path, source: { id: path, revision: null } };
    throw new SnnError('BUNDLE_INVALID', { message: 'a .snn bundle is a folder holding meta.json; this is not', at: path });
  }
  // A bundle renamed without .snn is still a bundle (meta.json + graph.json beside its config.json).
  if (isDir && existsSync(join(path, 'meta.json')) && existsSync(join(path, 'graph.json'))) return { kind: 'bundle', path, source: { id: path, revision: null } };
  if (!isDir) {
    if (/\.onnx$/i.test(path)) return { kind: 'onnx', path, source: { id: path, revision: null } };
    throw new SnnError('MODEL_NOT_FOUND', { message: 'this is a file, but not an .onnx model', at: path });
  }
  if (!existsSync(join(path, 'config.json'))) {
    const onnx = ['model.onnx', join('onnx', 'model.onnx')].find((f) => existsSync(join(path, f)));
    throw new SnnError('CONFIG_MISSING', {
      message: `the folder '${path}' has no config.json`,
      at: path,
      ...(onnx ? { hint: `to convert its ONNX export, pass the file: ${join(path, onnx)}` } : {}),
    });
  }
  return { kind: 'hf-dir', path, source: sourceOfCachedPath(path) ?? { id: path, revision: null } };
}

/** A folder inside a HF cache snapshot knows its hub id and commit. */
function sourceOfCachedPath(path: string): { id: string; revision: string } | null {
  const m = /[\\/]models--([^\\/]+)[\\/]snapshots[\\/]([0-9a-f]{40})$/.exec(path);
  return m?.[1] && m[2] ? { id: m[1].split('--').join('/'), revision: m[2] } : null;
}

async function resolveHubModel(id: string, opts: ResolveOptions): Promise<ResolvedModel> {
  const revision = opts.revision ?? 'main';
  if (!REVISION.test(revision) || revision.includes('..')) {
    throw new SnnError('OPTION_INVALID', {
      message: `--revision '${revision}' is not a branch, tag or commit name`,
      at: '--revision',
      hint: 'give a branch or tag name (main) or a 40-hex commit hash',
    });
  }
  const cacheDir = opts.cacheDir ? resolve(expandHome(opts.cacheDir)) : hfCacheDir();
  const repoDir = join(cacheDir, `models--${id.split('/').join('--')}`);
  const commit = COMMIT.test(revision) ? revision : readRef(repoDir, revision);
  const snapshot = commit ? join(repoDir, 'snapshots', commit) : null;
  if (commit && snapshot && existsSync(join(snapshot, 'config.json'))) {
    return { kind: 'hf-dir', path: snapshot, source: { id, revision: commit } };
  }
  if (opts.offline ?? isOfflineEnv(process.env)) {
    throw new SnnError('HUB_NOT_CACHED', {
      message: `'${id}' at revision '${revision}' is not in the HF cache ${cacheDir} and downloads are off`,
      at: snapshot ?? join(repoDir, 'refs', revision),
    });
  }
  const downloaded = await downloadSnapshot(id, revision, repoDir, opts);
  return { kind: 'hf-dir', path: downloaded.path, source: { id, revision: downloaded.commit } };
}

function readRef(repoDir: string, revision: string): string | null {
  const file = join(repoDir, 'refs', revision);
  if (!existsSync(file) || !statSync(file).isFile()) return null;
  const commit = readFileSync(file, 'utf8').trim();
  return COMMIT.test(commit) ? commit : null;
}

function isOfflineEnv(env: NodeJS.ProcessEnv): boolean {
  return ['1', 'ON', 'YES', 'TRUE'].includes((env['HF_HUB_OFFLINE'] ?? '').toUpperCase());
}

/** Common parameters of the @huggingface/hub calls: endpoint, token and fetch from env and options. */
function hubParams(opts: ResolveOptions): { hubUrl?: string; accessToken?: string; fetch?: typeof fetch } {
  const hubUrl = process.env['HF_ENDPOINT'];
  const accessToken = process.env['HF_TOKEN'] ?? process.env['HUGGING_FACE_HUB_TOKEN'];
  return { ...(hubUrl ? { hubUrl } : {}), ...(accessToken ? { accessToken } : {}), ...(opts.fetch ? { fetch: opts.fetch } : {}) };
}

/**
 * Downloads the files a conversion needs into the HF cache layout huggingface_hub uses:
 * `blobs/<etag>`, `snapshots/<commit>/<file>` linking to the blob, and `refs/<revision>`.
 * config.json is linked last and the ref written after it, so an interrupted download is never
 * taken for a cached model.
 */
async function downloadSnapshot(id: string, revision: string, repoDir: string, opts: ResolveOptions): Promise<{ path: string; commit: string }> {
  const hub = hubParams(opts);
  const say = opts.onProgress ?? (() => undefined);
  try {
    say(`looking up ${id}@${revision} on the hub`);
    const { sha: commit } = await modelInfo({ ...hub, name: id, revision, additionalFields: ['sha'] });
    if (typeof commit !== 'string' || !COMMIT.test(commit)) throw new Error(`the hub gave no commit for revision '${revision}'`);
    const files: ListFileEntry[] = [];
    for await (const entry of listFiles({ ...hub, repo: { type: 'model', name: id }, revision: commit })) {
      if (entry.type === 'file' && WANTED_FILES.some((re) => re.test(entry.path))) files.push(entry);
    }
    if (!files.some((f) => f.path === 'config.json')) {
      throw new SnnError('CONFIG_MISSING', {
        message: `the hub repository '${id}' at ${commit} has no config.json at its root`,
        at: `${id}@${revision}`,
        hint: 'give the id of a transformers model repository (its files tab lists config.json)',
      });
    }
    files.sort((a, b) => Number(a.path === 'config.json') - Number(b.path === 'config.json'));
    const snapshot = join(repoDir, 'snapshots', commit);
    for (const file of files) {
      const blob = join(repoDir, 'blobs', blobName(file));
      if (!existsSync(blob)) {
        say(`downloading ${id}@${commit.slice(0, 8)}: ${file.path} (${file.size} bytes)`);
        await downloadBlob(id, commit, file, blob, hub);
      }
    }
    for (const file of files) await linkBlob(join(repoDir, 'blobs', blobName(file)), join(snapshot, file.path));
    if (revision !== commit) {
      await mkdir(dirname(join(repoDir, 'refs', revision)), { recursive: true });
      await writeFile(join(repoDir, 'refs', revision), commit);
    }
    return { path: snapshot, commit };
  } catch (cause) {
    if (cause instanceof SnnError) throw cause;
    throw new SnnError('HUB_DOWNLOAD_FAILED', {
      message: `could not download '${id}' at revision '${revision}': ${describeHubError(cause)}`,
      at: `${hub.hubUrl ?? 'https://huggingface.co'}/${id}`,
      cause,
    });
  }
}

/** The name huggingface_hub gives the blob: the LFS sha256 for large files, the git oid otherwise. */
function blobName(file: ListFileEntry): string {
  const name = file.lfs?.oid ?? file.oid ?? file.xetHash;
  if (!name || !/^[\w-]+$/.test(name)) throw new Error(`the hub listing of ${file.path} has no usable object id`);
  return name;
}

async function downloadBlob(
  id: string, commit: string, file: ListFileEntry, blobPath: string, hub: ReturnType<typeof hubParams>,
): Promise<void> {
  // xet: false → plain HTTP(S) from the resolve URL, which serves every file, xet-backed ones included.
  const blob = await downloadFile({ ...hub, repo: { type: 'model', name: id }, path: file.path, revision: commit, xet: false });
  if (!blob) throw new Error(`the hub lists ${file.path} but does not serve it`);
  const part = `${blobPath}.incomplete`;
  await mkdir(dirname(blobPath), { recursive: true });
  await pipeline(Readable.fromWeb(blob.stream() as NodeReadableStream<Uint8Array>), createWriteStream(part));
  const { size } = await stat(part);
  if (size !== file.size) {
    await rm(part, { force: true });
    throw new Error(`${file.path} arrived truncated: ${size} of ${file.size} bytes`);
  }
  await rename(part, blobPath);
}

/** A relative symlink as huggingface_hub makes it; a copy where symlinks are not allowed. */
async function linkBlob(blobPath: string, filePath: string): Promise<void> {
  await mkdir(dirname(filePath), { recursive: true });
  await rm(filePath, { force: true });
  try {
    await symlink(relative(dirname(filePath), blobPath), filePath);
  } catch {
    await copyFile(blobPath, filePath);
  }
}

function describeHubError(e: unknown): string {
  const status = typeof e === 'object' && e !== null && 'statusCode' in e ? Number(e.statusCode) : null;
  const text = e instanceof Error ? e.message || e.name : String(e);
  const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : '';
  if (status === 401 || status === 403 || status === 404) {
    return `HTTP ${status}: the repository or revision does not exist, or it is private or gated (set HF_TOKEN to a token with access) — ${text}`;
  }
  return status ? `HTTP ${status}: ${text}` : `${text}${cause}`;
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}
