// A small pool of worker threads running one built module's task function: tasks queue for the first idle worker.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parentPort, Worker } from 'node:worker_threads';

interface Queued<T, R> {
  readonly task: T;
  readonly transfer: readonly ArrayBuffer[];
  readonly resolve: (r: R) => void;
  readonly reject: (e: Error) => void;
}

/**
 * A worker module of this package's build: dist/<path>. From the built files that is the module beside
 * its caller; from the TypeScript sources (tests) it is the build's, since a worker cannot load .ts.
 */
export function builtWorker(path: string): URL {
  return new URL(`../../dist/${path}`, import.meta.url);
}

/**
 * `threads` workers of `module` (a built .js file; see serveTasks), or null where there is nothing to run
 * them for (one thread) or the module is absent (the TypeScript sources under test without a build):
 * callers then run the task function in their own thread, which gives the same results.
 */
export class WorkerPool<T, R> {
  private readonly idle: Worker[];
  private readonly queue: Queued<T, R>[] = [];
  private live: number;
  private closing = false;

  private constructor(private readonly workers: readonly Worker[]) {
    this.idle = [...workers];
    this.live = workers.length;
    // An idle worker that exits leaves the pool too (a busy one is handled by its task).
    for (const w of workers) {
      w.once('exit', () => {
        const at = this.idle.indexOf(w);
        if (at < 0) return;
        this.idle.splice(at, 1);
        this.live -= 1;
        this.next();
      });
    }
  }

  static open<T, R>(module: URL, threads: number): WorkerPool<T, R> | null {
    return WorkerPool.usable(module, threads) ? new WorkerPool<T, R>(Array.from({ length: threads }, () => new Worker(module))) : null;
  }

  /** Whether open would start workers (more than one thread, the module built). */
  static usable(module: URL, threads: number): boolean {
    return threads > 1 && existsSync(fileURLToPath(module));
  }

  get size(): number {
    return this.workers.length;
  }

  /** Runs `task` on the next idle worker; `transfer`: buffers moved to it instead of copied. */
  run(task: T, transfer: readonly ArrayBuffer[] = []): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ task, transfer, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const job = this.queue.shift()!;
      const onMessage = (m: { result?: R; error?: string }) => {
        done();
        if (m.error !== undefined) job.reject(new Error(`worker task failed: ${m.error}`)); else job.resolve(m.result!);
      };
      // A worker that dies (an uncaught error, or exit) fails its task and leaves the pool; when none is
      // left, the queued tasks fail too instead of waiting for ever.
      const onError = (e: Error) => { lost(e); };
      const onExit = (code: number) => { lost(new Error(`worker exited with code ${code} before finishing its task`)); };
      const lost = (e: Error) => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        this.live -= 1;
        job.reject(e);
        if (this.live === 0) for (const waiting of this.queue.splice(0)) waiting.reject(e);
      };
      const done = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        this.idle.push(worker);
        this.next();
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(job.task, [...job.transfer]);
    }
    if (this.live === 0 && !this.closing) for (const waiting of this.queue.splice(0)) waiting.reject(new Error('no worker thread is left to run the task'));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The worker side: answers each task with `run`'s result, its `transfer` buffers moved back. */
export function serveTasks<T, R>(run: (task: T) => { readonly result: R; readonly transfer?: readonly ArrayBuffer[] }): void {
  parentPort!.on('message', (task: T) => {
    try {
      const { result, transfer = [] } = run(task);
      parentPort!.postMessage({ result }, [...transfer]);
    } catch (e) {
      parentPort!.postMessage({ error: (e as Error).message });
    }
  });
}
