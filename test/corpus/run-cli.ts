// Runs one corpus case through the CLI as a child process and records everything the checks need.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../helpers.js';

export interface CliRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  readonly timedOut: boolean;
  /** Processes of the child's group still alive after it exited (pids). */
  readonly leftBehind: boolean;
}

/** Everything under `dir` (relative path → size), to see whether a run wrote anything. */
export function snapshot(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      out.set(join(rel, name), st?.size ?? -1);
      if (st?.isDirectory()) walk(p, join(rel, name));
    }
  };
  walk(dir, '');
  return out;
}

export function diffSnapshots(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): string[] {
  const changes: string[] = [];
  for (const [k, v] of after) if (!before.has(k)) changes.push(`+${k}`); else if (before.get(k) !== v) changes.push(`~${k}`);
  for (const k of before.keys()) if (!after.has(k)) changes.push(`-${k}`);
  return changes;
}

/**
 * Runs `snnconvert ARGS` in `cwd` as the leader of its own process group, so that whatever it starts
 * can be found (and must be gone) when it exits; kills the group after `timeoutMs`.
 */
export function runCli(args: readonly string[], opts: { cwd: string; stdin?: string; timeoutMs: number; env: NodeJS.ProcessEnv }): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { if (stdout.length < 1 << 20) stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
    const timer = setTimeout(() => { timedOut = true; killGroup(child.pid); }, opts.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const leftBehind = groupAlive(child.pid);
      if (leftBehind) killGroup(child.pid);
      resolvePromise({ code, signal, stdout, stderr, ms: performance.now() - started, timedOut, leftBehind });
    });
  });
}

function groupAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
}

/** Runs `jobs` with at most `width` at a time. */
export async function pool<T, R>(items: readonly T[], width: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await job(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}
