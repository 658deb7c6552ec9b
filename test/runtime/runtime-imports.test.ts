// Running a bundle needs no compiler: the runtime and the bundle reader import nothing from emit, ops or passes, and run with those folders absent.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { loadBundle as loadBundleFromSrc } from '../../src/runtime/model.js';
import { windowInput } from '../../src/runtime/windows.js';
import { GPT2_DIR, tempDir } from '../helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/[\\/]test[\\/]?$/, '');
const SRC = join(ROOT, 'src');
/** What running a bundle may load: the runtime, the bundle reader, and what they stand on. */
const RUNTIME_FOLDERS = ['runtime', 'bundle', 'ir', 'errors', 'tokenizer', 'weights', 'util', 'options'] as const;
const COMPILER_FOLDERS = ['emit', 'ops', 'passes'];

/** Relative module specifiers of a source file (static, type-only, re-export and dynamic imports). */
function importSpecifiers(source: string): string[] {
  return [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)]
    .map((m) => m[1] ?? m[2] ?? m[3]!)
    .filter((s) => s.startsWith('.'));
}

/** Every module reachable from `entries` by relative imports (static, type-only, re-export, dynamic). */
function moduleClosure(entries: readonly string[]): string[] {
  const seen = new Set<string>();
  const stack = entries.map((e) => resolve(e));
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) stack.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return [...seen].sort();
}

const tsIn = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
const folderOf = (file: string, base: string): string => relative(base, file).split(/[\\/]/)[0]!;

describe('the runtime is a consumer of bundles, not a compiler', () => {
  it('the closure scan finds a compiler module two imports away (a test of the test)', () => {
    const dir = mkdtempSync(join(tempDir('snn-closure-'), 'src-'));
    for (const d of ['runtime', 'bundle', 'emit']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'runtime', 'a.ts'), "import { b } from '../bundle/b.js';\nexport const a = b;\n");
    writeFileSync(join(dir, 'bundle', 'b.ts'), "import '../emit/side.js';\nexport const b = await import('../emit/c.js');\n");
    writeFileSync(join(dir, 'emit', 'c.ts'), 'export const c = 1;\n');
    writeFileSync(join(dir, 'emit', 'side.ts'), 'globalThis.x = 1;\n');
    const reached = moduleClosure([join(dir, 'runtime', 'a.ts')]).map((f) => relative(dir, f));
    expect(reached).toEqual(expect.arrayContaining([join('emit', 'c.ts'), join('emit', 'side.ts')]));
  });

  it('every module under src/runtime and src/bundle reaches only runtime-side folders (no emit, ops, passes)', () => {
    const closure = moduleClosure([...tsIn(join(SRC, 'runtime')), ...tsIn(join(SRC, 'bundle'))]);
    const folders = new Set(closure.map((f) => folderOf(f, SRC)));
    for (const banned of COMPILER_FOLDERS) expect(folders.has(banned), `reaches src/${banned}: ${closure.filter((f) => folderOf(f, SRC) === banned).join(', ')}`).toBe(false);
    expect([...folders].filter((f) => !(RUNTIME_FOLDERS as readonly string[]).includes(f))).toEqual([]);
  });

  describe('a copy of src/ that holds only the runtime-side folders', () => {
    let bundlePath: string;
    let copy: string;
    beforeAll(async () => {
      bundlePath = (await convert(undefined, { calibration: { samples: 8, length: 64 }, out: join(tempDir('snn-runtime-only-'), 'm.snn') })).bundlePath;
      // Inside the repository, so the copy resolves onnxruntime-node and zod from its node_modules.
      copy = mkdtempSync(join(ROOT, '.snn-tmp-runtime-only-'));
      for (const d of RUNTIME_FOLDERS) cpSync(join(SRC, d), join(copy, 'src', d), { recursive: true });
    });
    afterAll(() => { if (copy) rmSync(copy, { recursive: true, force: true }); });

    it('loads a bundle, generates, evaluates, runs the step form and fetches spikes, with the logits of the full source tree', async () => {
      expect(readdirSync(join(copy, 'src')).sort()).toEqual([...RUNTIME_FOLDERS].sort());
      const runtime = join(copy, 'src', 'runtime');
      const { loadBundle } = await import(join(runtime, 'model.ts')) as typeof import('../../src/runtime/model.js');
      const { TemporalSpikeProcessor } = await import(join(runtime, 'tsp.ts')) as typeof import('../../src/runtime/tsp.js');
      const { evaluate } = await import(join(runtime, 'evaluate.ts')) as typeof import('../../src/runtime/evaluate.js');
      const ids = [...readFileSync(join(GPT2_DIR, 'heldout.txt'))].slice(0, 48);
      const bundle = await loadBundle(bundlePath);
      const reference = await loadBundleFromSrc(bundlePath);
      const steps = await loadBundle(bundlePath, { simulate: 'steps' });
      try {
        const tsp = new TemporalSpikeProcessor(bundle);
        const pieces = [];
        for await (const p of tsp.generate(ids.slice(0, 16), { maxNewTokens: 4, temperature: 0 })) pieces.push(p);
        expect(pieces.length).toBe(4);
        const r = await evaluate(bundle, ids, { window: 48 });
        expect(r.ratio).toBeGreaterThan(0.9);
        expect(r.ratio).toBeLessThan(1.2);
        const input = windowInput(ids, [0], ids.length);
        const spikes = bundle.spikeOutputs.map((s) => s.output);
        const a = await (await bundle.session(false)).run(input, spikes);
        const b = await (await steps.session(false)).run(input, spikes);
        const c = await (await reference.session(false)).run(input);
        expect(Buffer.from(a.logits.buffer).equals(Buffer.from(c.logits.buffer))).toBe(true);
        expect(Buffer.from(b.logits.buffer).equals(Buffer.from(c.logits.buffer))).toBe(true);
        expect(a.extra.size).toBe(spikes.length);
        await tsp.release();
      } finally {
        await bundle.release();
        await steps.release();
        await reference.release();
      }
    });
  });
});
