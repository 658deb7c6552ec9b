// Model resolution: local paths, the HF cache layout, env variables, offline mode and (faked) downloads.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SnnError } from '../../src/errors/index.js';
import { hfCacheDir, resolveModel } from '../../src/import/hub.js';

const MAIN = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
const DEV = 'ffeeddccbbaa99887766554433221100ffeeddcc';
const REMOTE = '0123456789abcdef0123456789abcdef01234567';

let root: string;
let cache: string;

/** `models--acme--tiny` with refs main → MAIN and dev → DEV, one snapshot each. */
function buildCache(dir: string): void {
  const repo = join(dir, 'models--acme--tiny');
  mkdirSync(join(repo, 'refs'), { recursive: true });
  writeFileSync(join(repo, 'refs', 'main'), MAIN);
  writeFileSync(join(repo, 'refs', 'dev'), `${DEV}\n`);
  for (const [commit, which] of [[MAIN, 'main'], [DEV, 'dev']] as const) {
    mkdirSync(join(repo, 'snapshots', commit), { recursive: true });
    writeFileSync(join(repo, 'snapshots', commit, 'config.json'), JSON.stringify({ which }));
  }
}

async function rejection(p: Promise<unknown>): Promise<SnnError> {
  const e: unknown = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(SnnError);
  return e as SnnError;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'snn-hub-'));
  cache = join(root, 'hub');
  buildCache(cache);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

describe('resolveModel on the HF cache', () => {
  it('resolves ORG/NAME through refs/main to its snapshot', async () => {
    const m = await resolveModel('acme/tiny', { cacheDir: cache, offline: true });
    expect(m).toEqual({ kind: 'hf-dir', path: join(cache, 'models--acme--tiny', 'snapshots', MAIN), source: { id: 'acme/tiny', revision: MAIN } });
  });

  it('reads a branch revision from refs/<branch>', async () => {
    const m = await resolveModel('acme/tiny', { cacheDir: cache, offline: true, revision: 'dev' });
    expect(m.path).toBe(join(cache, 'models--acme--tiny', 'snapshots', DEV));
    expect(m.source.revision).toBe(DEV);
  });

  it('uses a 40-hex revision as the snapshot folder directly', async () => {
    const m = await resolveModel('acme/tiny', { cacheDir: cache, offline: true, revision: DEV });
    expect(m.source).toEqual({ id: 'acme/tiny', revision: DEV });
  });

  it('honours HF_HUB_CACHE, and HF_HOME/hub when HF_HUB_CACHE is unset', async () => {
    vi.stubEnv('HF_HUB_CACHE', cache);
    expect((await resolveModel('acme/tiny', { offline: true })).source.revision).toBe(MAIN);
    vi.stubEnv('HF_HUB_CACHE', undefined);
    vi.stubEnv('HUGGINGFACE_HUB_CACHE', undefined);
    vi.stubEnv('HF_HOME', root);
    expect((await resolveModel('acme/tiny', { offline: true })).path).toBe(join(cache, 'models--acme--tiny', 'snapshots', MAIN));
  });

  it('finds the cache folder the way huggingface_hub does', () => {
    expect(hfCacheDir({})).toBe(join(homedir(), '.cache', 'huggingface', 'hub'));
    expect(hfCacheDir({ HF_HOME: '/data/hf' })).toBe('/data/hf/hub');
    expect(hfCacheDir({ HF_HOME: '/data/hf', HF_HUB_CACHE: '/fast/hub' })).toBe('/fast/hub');
    expect(hfCacheDir({ XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/huggingface/hub');
  });

  it('refuses an uncached model offline, naming the id, the revision and the cache', async () => {
    const e = await rejection(resolveModel('acme/absent', { cacheDir: cache, offline: true }));
    expect(e.code).toBe('HUB_NOT_CACHED');
    expect(e.message).toContain("'acme/absent'");
    expect(e.message).toContain("'main'");
    expect(e.message).toContain(cache);
  });

  it('treats HF_HUB_OFFLINE=1 as --offline, also for an uncached revision of a cached model', async () => {
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    const e = await rejection(resolveModel('acme/tiny', { cacheDir: cache, revision: 'v2' }));
    expect(e.code).toBe('HUB_NOT_CACHED');
    expect(e.at).toBe(join(cache, 'models--acme--tiny', 'refs', 'v2'));
  });

  it('rejects a revision that could escape the cache folder', async () => {
    const e = await rejection(resolveModel('acme/tiny', { cacheDir: cache, offline: true, revision: '../../etc' }));
    expect(e.code).toBe('OPTION_INVALID');
  });
});

describe('resolveModel on local paths', () => {
  it('takes a folder with config.json as a HF model folder', async () => {
    const dir = join(root, 'local-model');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{}');
    expect(await resolveModel(dir)).toEqual({ kind: 'hf-dir', path: dir, source: { id: dir, revision: null } });
  });

  it('recovers the hub id and commit of a snapshot folder given as a path', async () => {
    const m = await resolveModel(join(cache, 'models--acme--tiny', 'snapshots', DEV));
    expect(m.source).toEqual({ id: 'acme/tiny', revision: DEV });
  });

  it('takes an existing .onnx file as an ONNX model', async () => {
    const file = join(root, 'model.onnx');
    writeFileSync(file, 'not really onnx');
    expect(await resolveModel(file)).toEqual({ kind: 'onnx', path: file, source: { id: file, revision: null } });
  });

  it('takes a .snn folder with meta.json as a bundle, and refuses one without', async () => {
    const bundle = join(root, 'tiny.snn');
    mkdirSync(bundle, { recursive: true });
    expect((await rejection(resolveModel(bundle))).code).toBe('BUNDLE_INVALID');
    writeFileSync(join(bundle, 'meta.json'), '{}');
    expect(await resolveModel(bundle)).toMatchObject({ kind: 'bundle', path: bundle });
  });

  it('reports a missing path as MODEL_NOT_FOUND', async () => {
    for (const p of ['./no-such-model', join(root, 'nope'), 'missing.onnx']) {
      expect((await rejection(resolveModel(p))).code).toBe('MODEL_NOT_FOUND');
    }
  });

  it('reports a folder without config.json as CONFIG_MISSING, naming it', async () => {
    const dir = join(root, 'empty-folder');
    mkdirSync(dir, { recursive: true });
    const e = await rejection(resolveModel(dir));
    expect(e.code).toBe('CONFIG_MISSING');
    expect(e.message).toContain(dir);
  });
});

interface FakeFile { readonly path: string; readonly body: string; readonly lfs?: boolean }

/** A fake hub serving one repo from memory: model info, tree listing, resolve (with Range). */
function fakeHub(name: string, commit: string, files: readonly FakeFile[]): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  const gitOid = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
  const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  const json = (v: unknown): Response => new Response(JSON.stringify(v), { headers: { 'Content-Type': 'application/json' } });
  const fake = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    calls.push(url.pathname);
    if (url.pathname === `/api/models/${name}/revision/main`) return json({ _id: 'x', id: name, sha: commit });
    if (url.pathname === `/api/models/${name}/tree/${commit}`) {
      return json([
        { type: 'directory', path: 'onnx', size: 0, oid: '0'.repeat(40) },
        ...files.map((f) => {
          const b = Buffer.from(f.body);
          return { type: 'file', path: f.path, size: b.length, oid: gitOid(b), ...(f.lfs ? { lfs: { oid: sha256(b), size: b.length, pointerSize: 134 } } : {}) };
        }),
      ]);
    }
    const file = files.find((f) => url.pathname === `/${name}/resolve/${commit}/${f.path}`);
    if (!file) return new Response('not found', { status: 404, headers: { 'X-Error-Code': 'EntryNotFound' } });
    const b = Buffer.from(file.body);
    const etag = `"${file.lfs ? sha256(b) : gitOid(b)}"`;
    if (new Headers(init?.headers).get('range') === 'bytes=0-0') {
      return new Response(b.subarray(0, 1), { status: 206, headers: { 'Content-Range': `bytes 0-0/${b.length}`, ETag: etag } });
    }
    return new Response(b, { headers: { ETag: etag, 'Content-Length': String(b.length) } });
  };
  return { fetch: fake as typeof fetch, calls };
}

describe('resolveModel downloading from the hub (fake fetch, no network)', () => {
  const files: FakeFile[] = [
    { path: 'config.json', body: '{"model_type":"gpt2"}' },
    { path: 'tokenizer.json', body: '{"model":{}}' },
    { path: 'tokenizer_config.json', body: '{}' },
    { path: 'model.safetensors', body: 'pretend weights', lfs: true },
    { path: 'README.md', body: '# not needed' },
    { path: 'pytorch_model.bin', body: 'not needed', lfs: true },
  ];
  // A developer's own hub settings must not leak into these tests.
  beforeEach(() => {
    for (const name of ['HF_HUB_OFFLINE', 'HF_ENDPOINT', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) vi.stubEnv(name, undefined);
  });

  it('downloads the needed files into the HF cache layout and resolves them from the cache afterwards', async () => {
    const dl = join(root, 'dl-cache');
    const hub = fakeHub('acme/remote', REMOTE, files);
    const progress: string[] = [];
    const m = await resolveModel('acme/remote', { cacheDir: dl, fetch: hub.fetch, onProgress: (s) => progress.push(s) });
    const repo = join(dl, 'models--acme--remote');
    const snapshot = join(repo, 'snapshots', REMOTE);
    expect(m).toEqual({ kind: 'hf-dir', path: snapshot, source: { id: 'acme/remote', revision: REMOTE } });
    expect(readFileSync(join(repo, 'refs', 'main'), 'utf8')).toBe(REMOTE);
    expect(readFileSync(join(snapshot, 'model.safetensors'), 'utf8')).toBe('pretend weights');
    expect(readFileSync(join(snapshot, 'config.json'), 'utf8')).toBe('{"model_type":"gpt2"}');
    expect(lstatSync(join(snapshot, 'model.safetensors')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(snapshot, 'model.safetensors'))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(existsSync(join(snapshot, 'README.md'))).toBe(false);
    expect(existsSync(join(snapshot, 'pytorch_model.bin'))).toBe(false);
    expect(hub.calls.some((c) => c.includes('README') || c.includes('onnx') || c.endsWith('.bin'))).toBe(false);
    expect(progress.some((s) => s.includes('model.safetensors'))).toBe(true);

    const calls = hub.calls.length;
    const again = await resolveModel('acme/remote', { cacheDir: dl, fetch: hub.fetch, offline: true });
    expect(again).toEqual(m);
    expect(hub.calls.length).toBe(calls);
  });

  it('reports a network failure as HUB_DOWNLOAD_FAILED with its cause', async () => {
    const failing = (async () => { throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND huggingface.co') }); }) as typeof fetch;
    const e = await rejection(resolveModel('acme/remote', { cacheDir: join(root, 'net-fail'), fetch: failing }));
    expect(e.code).toBe('HUB_DOWNLOAD_FAILED');
    expect(e.message).toContain('ENOTFOUND');
    expect(e.cause).toBeInstanceOf(TypeError);
  });

  it('reports an unknown repository as HUB_DOWNLOAD_FAILED naming the HTTP status', async () => {
    const hub = fakeHub('acme/remote', REMOTE, files);
    const e = await rejection(resolveModel('acme/other', { cacheDir: join(root, 'missing-repo'), fetch: hub.fetch }));
    expect(e.code).toBe('HUB_DOWNLOAD_FAILED');
    expect(e.message).toContain('404');
  });

  it('refuses a repository without config.json with CONFIG_MISSING', async () => {
    const hub = fakeHub('acme/remote', REMOTE, files.filter((f) => f.path !== 'config.json'));
    expect((await rejection(resolveModel('acme/remote', { cacheDir: join(root, 'no-config'), fetch: hub.fetch }))).code).toBe('CONFIG_MISSING');
  });

  it('leaves nothing that resolves as cached when a download breaks midway', async () => {
    const dl = join(root, 'broken');
    const hub = fakeHub('acme/remote', REMOTE, files);
    const breaking = (async (input: string | URL | Request, init?: RequestInit) => {
      if (input.toString().endsWith('model.safetensors')) return new Response('boom', { status: 500 });
      return hub.fetch(input, init);
    }) as typeof fetch;
    expect((await rejection(resolveModel('acme/remote', { cacheDir: dl, fetch: breaking }))).code).toBe('HUB_DOWNLOAD_FAILED');
    expect((await rejection(resolveModel('acme/remote', { cacheDir: dl, offline: true }))).code).toBe('HUB_NOT_CACHED');
  });
});
