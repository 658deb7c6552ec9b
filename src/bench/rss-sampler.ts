// Peak process memory during a run: a worker thread samples RSS, because onnxruntime blocks the main thread while it runs.
import { Worker } from 'node:worker_threads';

/** The worker: raises the shared peak (KiB) to the current RSS every interval (a CAS loop: Atomics has no max). */
const SAMPLER_SOURCE = `
const { workerData } = require('node:worker_threads');
const peak = workerData.peak;
setInterval(() => {
  const v = Math.ceil(process.memoryUsage.rss() / 1024);
  for (let cur = Atomics.load(peak, 0); cur < v; cur = Atomics.load(peak, 0)) if (Atomics.compareExchange(peak, 0, cur, v) === cur) break;
}, workerData.intervalMs);
`;

/** Samples process RSS every `intervalMs` on its own thread; `begin()`/`end()` bracket a run. */
export class RssSampler {
  private readonly peak = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker: Worker;

  constructor(readonly intervalMs = 5) {
    this.worker = new Worker(SAMPLER_SOURCE, { eval: true, workerData: { peak: this.peak, intervalMs } });
    this.worker.unref();
  }

  /** Starts a window; returns the RSS now, in bytes. */
  begin(): number {
    const now = process.memoryUsage.rss();
    Atomics.store(this.peak, 0, Math.ceil(now / 1024));
    return now;
  }

  /** The peak RSS seen since `begin()` (the current RSS included), in bytes. */
  end(): number {
    const now = Math.ceil(process.memoryUsage.rss() / 1024);
    return Math.max(now, Atomics.load(this.peak, 0)) * 1024;
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
