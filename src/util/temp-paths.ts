// Temp files and folders the process is writing, removed if it is interrupted: a Ctrl-C mid-conversion leaves nothing behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<string>();
let installed = false;

/** Records `path` as temporary until the returned function is called (after the caller removed or renamed it). */
export function trackTemp(path: string): () => void {
  live.add(path);
  return () => { live.delete(path); };
}

/** Paths tracked now (tests). */
export function trackedTemps(): string[] {
  return [...live];
}

/** Removes every tracked path, quietly (a path already gone is fine). */
export function removeTrackedTemps(): void {
  for (const path of live) {
    try { rmSync(path, { recursive: true, force: true }); } catch { /* best effort on the way out */ }
  }
  live.clear();
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

/**
 * For commands that write large temp files (convert, report): on SIGINT, SIGTERM or SIGHUP, removes the
 * tracked paths and exits with 128 + the signal's number, as the shell reports a killed process. A library
 * caller's process is left alone: only the CLI installs this.
 */
export function removeTempsOnSignal(): void {
  if (installed) return;
  installed = true;
  for (const [signal, number] of Object.entries(SIGNALS)) {
    process.on(signal, () => {
      const n = live.size;
      removeTrackedTemps();
      process.stderr.write(`\ninterrupted (${signal})${n ? `: removed ${n} temp path${n === 1 ? '' : 's'}` : ''}\n`);
      process.exit(128 + number);
    });
  }
}

/** A fresh folder `prefix`XXXXXX in `parent` (default: the OS temp folder), tracked until `remove` deletes it. */
export function makeTempDir(prefix: string, parent: string = tmpdir()): { readonly path: string; readonly remove: () => void } {
  const path = mkdtempSync(join(parent, prefix));
  const untrack = trackTemp(path);
  return { path, remove: () => { rmSync(path, { recursive: true, force: true }); untrack(); } };
}
