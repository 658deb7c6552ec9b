// Dependencies point one way (STYLE "Our shape", issue 10): scans every import in src/ and fails on a forbidden edge.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

/** Layer (top folder under src/) → layers it must not import. */
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  ir: ['ops', 'import', 'passes', 'calibrate', 'emit', 'runtime', 'report', 'open', 'cli'],
  weights: ['import', 'passes', 'calibrate', 'emit', 'runtime', 'report', 'open', 'cli'],
  tokenizer: ['import', 'passes', 'calibrate', 'emit', 'runtime', 'report', 'open', 'cli'],
  emit: ['runtime', 'report', 'import', 'passes', 'calibrate', 'open', 'cli', 'coherence', 'bench'],
  runtime: ['import', 'passes', 'calibrate', 'report', 'open', 'cli', 'coherence', 'bench'],
};

/** Relative module specifiers of `source` (static, re-export and dynamic imports). */
export function importSpecifiers(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2];
    if (spec?.startsWith('.')) specs.push(spec);
  }
  return specs;
}

/** The src/ top folder a file or resolved specifier lives in ('' for src/*.ts itself). */
function layerOf(path: string): string {
  const rel = relative(SRC, path).split(/[\\/]/);
  return rel.length > 1 ? rel[0]! : '';
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every forbidden edge in src/, as "file → specifier". */
function violations(): string[] {
  const found: string[] = [];
  for (const file of tsFiles(SRC)) {
    const banned = FORBIDDEN[layerOf(file)] ?? [];
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (banned.includes(layerOf(resolve(dirname(file), spec)))) found.push(`${relative(SRC, file)} → ${spec}`);
    }
  }
  return found;
}

describe('layering', () => {
  it('the scanner sees static, type-only, re-export and dynamic imports', () => {
    const src = "import { a } from '../import/x.js';\nimport type {\n  B,\n} from './b.js';\nexport { c } from '../ops/c.js';\nconst d = await import('../runtime/d.js');\nimport ort from 'onnxruntime-node';";
    expect(importSpecifiers(src)).toEqual(['../import/x.js', './b.js', '../ops/c.js', '../runtime/d.js']);
  });

  it('has no import from runtime to import/, from emit/ to runtime/, or from ir/ to ops/ (nor any other upward edge)', () => {
    expect(violations()).toEqual([]);
  });
});
