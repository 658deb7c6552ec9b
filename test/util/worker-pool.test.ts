// The worker pool: tasks queue for the first idle worker and come back to their own callers; a worker that
// dies fails its task and, once none is left, every queued task, instead of leaving them waiting.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WorkerPool } from '../../src/util/worker-pool.js';
import { tempDir } from '../helpers.js';

/** A worker module written here: answers { result: n * n } after `delay` ms, or dies on a negative n. */
function workerModule(): URL {
  const file = join(tempDir('snn-pool-'), 'square.mjs');
  writeFileSync(file, `import { parentPort } from 'node:worker_threads';
parentPort.on('message', ({ n, delay }) => {
  if (n < 0) process.exit(3);
  if (n === 0) return parentPort.postMessage({ error: 'zero is refused' });
  setTimeout(() => parentPort.postMessage({ result: n * n }), delay);
});
`);
  return pathToFileURL(file);
}

describe('WorkerPool', () => {
  it('no pool for one thread or a missing module (callers run the task themselves)', () => {
    expect(WorkerPool.open(workerModule(), 1)).toBeNull();
    expect(WorkerPool.open(pathToFileURL('/nonexistent/worker.js'), 4)).toBeNull();
  });

  it('runs more tasks than workers, each answer to its own task; a task the worker refuses rejects with its message', async () => {
    const pool = WorkerPool.open<{ n: number; delay: number }, number>(workerModule(), 2)!;
    try {
      const results = await Promise.all(Array.from({ length: 7 }, (_, i) => pool.run({ n: i + 1, delay: (7 - i) * 3 })));
      expect(results).toEqual([1, 4, 9, 16, 25, 36, 49]);
      await expect(pool.run({ n: 0, delay: 0 })).rejects.toThrow(/zero is refused/);
      expect(await pool.run({ n: 5, delay: 0 })).toBe(25);
    } finally {
      await pool.close();
    }
  });

  it('a worker that exits fails its task; when the last one is gone the queued tasks fail too', async () => {
    const pool = WorkerPool.open<{ n: number; delay: number }, number>(workerModule(), 2)!;
    try {
      const tasks = [pool.run({ n: -1, delay: 0 }), pool.run({ n: -1, delay: 0 }), pool.run({ n: 2, delay: 0 }), pool.run({ n: 3, delay: 0 })];
      const settled = await Promise.allSettled(tasks);
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
      expect(String((settled[0] as PromiseRejectedResult).reason)).toMatch(/exited with code 3/);
      await expect(pool.run({ n: 4, delay: 0 })).rejects.toThrow(/no worker thread is left/);
    } finally {
      await pool.close();
    }
  });
});
