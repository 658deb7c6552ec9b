// sha256 of files and folders, streamed (bundles hold hundreds of MB of weights).
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Every file under `dir` (recursively), as paths relative to it, sorted. */
export function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p, base) : [relative(base, p)];
  }).sort();
}

/** sha256 of every file under `dir` except those in `skip`. */
export function hashTree(dir: string, skip: readonly string[] = []): Record<string, string> {
  return Object.fromEntries(listFiles(dir).filter((f) => !skip.includes(f)).map((f) => [f, sha256File(join(dir, f))]));
}
