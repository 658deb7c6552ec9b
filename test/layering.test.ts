// The layers of src/ in one ranked list (docs/design.md §1): every folder has a rank, an import may only point to
// the same rank or below, and no file takes part in an import cycle. The test of the test adds a bad edge and sees it fail.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

/**
 * Lowest first. Folders on one line share a rank: they may import each other, but no file cycle is allowed.
 * '' is src/*.ts itself (convert.ts, index.ts).
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors'],
  ['util', 'options'],
  ['ir'],
  ['onnx'],
  ['weights', 'tokenizer'],
  ['bundle'],
  ['runtime'],
  ['ops'],
  ['import', 'passes'],
  ['emit'],
  ['open'],
  ['calibrate'],
  ['reference'],
  ['report', 'bench', 'coherence'],
  ['serve'],
  [''],
  ['cli'],
];

const RANK: ReadonlyMap<string, number> = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank] as const)));

/** Relative module specifiers of `source` (static, re-export and dynamic imports). */
export function importSpecifiers(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec?.startsWith('.')) specs.push(spec);
  }
  return specs;
}

/** The src/ top folder a file lives in ('' for src/*.ts itself). */
function layerOf(path: string): string {
  const rel = relative(SRC, path).split(/[\\/]/);
  return rel.length > 1 ? rel[0]! : '';
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** file (relative to src/, .ts) → the files it imports (same form). */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

export function importGraph(sources: ReadonlyMap<string, string>): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const [file, text] of sources) {
    graph.set(file, importSpecifiers(text).map((spec) => relative(SRC, resolve(dirname(join(SRC, file)), spec)).replace(/\.js$/, '.ts')));
  }
  return graph;
}

function sourcesOf(dir: string): Map<string, string> {
  return new Map(tsFiles(dir).map((f) => [relative(SRC, f), readFileSync(f, 'utf8')]));
}

/** Every import to a higher rank, or from or to a folder missing from LAYERS, as "file → target". */
export function upwardEdges(graph: ImportGraph): string[] {
  const found: string[] = [];
  for (const [file, targets] of graph) {
    const from = RANK.get(layerOf(join(SRC, file)));
    for (const target of targets) {
      const to = RANK.get(layerOf(join(SRC, target)));
      if (from === undefined || to === undefined || to > from) found.push(`${file} → ${target}`);
    }
  }
  return found;
}

/** Every import cycle between files, each as "a → b → … → a" (one per strongly connected component). */
export function cycles(graph: ImportGraph): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    const selfLoop = (graph.get(v) ?? []).includes(v);
    if (component.length > 1 || selfLoop) found.push([...component.reverse(), component[0]].join(' → '));
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

describe('layering', () => {
  it('the scanner sees static, type-only, re-export, side-effect and dynamic imports', () => {
    const src = "import { a } from '../import/x.js';\nimport type {\n  B,\n} from './b.js';\nexport { c } from '../ops/c.js';\nconst d = await import('../runtime/d.js');\nimport '../emit/side.js';\nimport ort from 'onnxruntime-node';";
    expect(importSpecifiers(src)).toEqual(['../import/x.js', './b.js', '../ops/c.js', '../runtime/d.js', '../emit/side.js']);
  });

  it('ranks every folder under src/', () => {
    const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    expect(folders.filter((f) => !RANK.has(f))).toEqual([]);
  });

  it('has no import from a lower layer to a higher one', () => {
    expect(upwardEdges(importGraph(sourcesOf(SRC)))).toEqual([]);
  });

  it('has no import cycle, between files of one folder included', () => {
    expect(cycles(importGraph(sourcesOf(SRC)))).toEqual([]);
  });

  it('bites: an added upward import (ops → passes, ir → serve, runtime → convert.ts) and a cycle are found', () => {
    const sources = sourcesOf(SRC);
    sources.set('ops/op.ts', `${sources.get('ops/op.ts')}\nimport { x } from '../passes/pipeline.js';`);
    sources.set('ir/types.ts', `${sources.get('ir/types.ts')}\nimport { y } from '../serve/server.js';`);
    sources.set('runtime/model.ts', `${sources.get('runtime/model.ts')}\nimport { z } from '../convert.js';`);
    sources.set('errors/codes.ts', `${sources.get('errors/codes.ts')}\nimport { w } from './index.js';`);
    const graph = importGraph(sources);
    expect(upwardEdges(graph)).toEqual(expect.arrayContaining(['ops/op.ts → passes/pipeline.ts', 'ir/types.ts → serve/server.ts', 'runtime/model.ts → convert.ts']));
    expect(cycles(graph).some((c) => c.includes('errors/codes.ts'))).toBe(true);
  });
});
