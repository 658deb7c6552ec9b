// Scoring SNN logits against the ANN's, position by position (NLL, top-1 agreement, KL(ANN ‖ SNN)): the arithmetic,
// and a pool of worker threads that runs it on parts of a chunk while the caller sums the parts' figures in order.
import { readSync } from 'node:fs';
import { logSoftmaxRow } from '../runtime/windows.js';
import { builtWorker, WorkerPool } from '../util/worker-pool.js';

/**
 * Rows of logits (rows × V, float32): in memory, or in a file at a byte position (read where they are
 * scored). Memory shared with the pool's threads (a SharedArrayBuffer) reaches them without a copy.
 */
export type LogitRows = Float32Array | { readonly fd: number; readonly position: number };

/** Per-position figures of a chunk: the target's log-probability under the ANN, and per SNN source under it, top-1 agreement (0/1) and the KL term. */
export interface PositionScores {
  /** [rows]; 0 where the position has no target. */
  readonly annLogp: Float64Array;
  /** [sources × rows]. */
  readonly snnLogp: Float64Array;
  readonly agree: Uint8Array;
  readonly kl: Float64Array;
}

export interface ScoreTask {
  readonly vocab: number;
  /** Position j's next token, −1 where the position is not scored (a window's last). */
  readonly targets: Int32Array;
  readonly ann: LogitRows;
  readonly snn: readonly LogitRows[];
}

/** The rows of `src` as floats (a file's are read here: in the worker that scores them). */
function rowsOf(src: LogitRows, rows: number, vocab: number): Float32Array {
  if (src instanceof Float32Array) return src;
  const out = new Float32Array(rows * vocab);
  const bytes = new Uint8Array(out.buffer);
  for (let done = 0; done < bytes.length;) {
    const n = readSync(src.fd, bytes, done, bytes.length - done, src.position + done);
    if (n === 0) throw new Error(`logits file ended at byte ${src.position + done}: expected ${rows} rows`);
    done += n;
  }
  return out;
}

/**
 * Scores every position of a chunk: log-softmax in float64 of the ANN's and each SNN's logits, the ANN's
 * probabilities and top token computed once per position for all sources. Summed by the caller in
 * position order, the figures are those of one running sum over the positions, bit for bit.
 */
export function scorePositions(task: ScoreTask): PositionScores {
  const { vocab: V, targets } = task;
  const rows = targets.length, n = task.snn.length;
  const ann = rowsOf(task.ann, rows, V);
  const snn = task.snn.map((s) => rowsOf(s, rows, V));
  const pa = new Float64Array(V), ea = new Float64Array(V), ps = new Float64Array(V);
  const out: PositionScores = { annLogp: new Float64Array(rows), snnLogp: new Float64Array(n * rows), agree: new Uint8Array(n * rows), kl: new Float64Array(n * rows) };
  for (let j = 0; j < rows; j++) {
    const target = targets[j]!;
    if (target < 0) continue;
    logSoftmaxRow(ann, j * V, V, pa);
    out.annLogp[j] = pa[target]!;
    let am = 0;
    for (let v = 0; v < V; v++) {
      if (pa[v]! > pa[am]!) am = v;
      ea[v] = Math.exp(pa[v]!);
    }
    for (let i = 0; i < n; i++) {
      logSoftmaxRow(snn[i]!, j * V, V, ps);
      out.snnLogp[i * rows + j] = ps[target]!;
      let sm = 0, k = 0;
      for (let v = 0; v < V; v++) {
        if (ps[v]! > ps[sm]!) sm = v;
        k += ea[v]! * (pa[v]! - ps[v]!);
      }
      out.agree[i * rows + j] = am === sm ? 1 : 0;
      out.kl[i * rows + j] = k;
    }
  }
  return out;
}

const WORKER = builtWorker('report/score-worker.js');

/**
 * Scores chunks on `threads` worker threads, each taking a contiguous part of the chunk's positions
 * (file rows are read by the worker; in-memory rows are copied once into memory the threads share).
 * With one thread, or where the built worker module is absent, it scores in this thread: the same
 * function, the same figures.
 */
export class ScorePool {
  private readonly pool: WorkerPool<ScoreTask, PositionScores> | null;
  private readonly buffers: SharedArrayBuffer[] = [];
  private used = 0;

  constructor(threads: number) {
    this.pool = WorkerPool.open(WORKER, threads);
  }

  /** Threads scoring: the workers, or 1 (this thread). */
  get threads(): number {
    return this.pool?.size ?? 1;
  }

  /** The chunk's per-position figures, parts in order. */
  async score(task: ScoreTask): Promise<PositionScores> {
    const pool = this.pool;
    if (!pool) return scorePositions(task);
    const rows = task.targets.length, V = task.vocab;
    const per = Math.ceil(rows / pool.size);
    const shared = (src: LogitRows): LogitRows => (src instanceof Float32Array && !(src.buffer instanceof SharedArrayBuffer) ? this.share(src) : src);
    const whole: ScoreTask = { ...task, ann: shared(task.ann), snn: task.snn.map(shared) };
    try {
      const parts = Array.from({ length: pool.size }, (_, p) => {
        const from = Math.min(rows, p * per), to = Math.min(rows, from + per);
        const cut = (src: LogitRows): LogitRows => (src instanceof Float32Array ? src.subarray(from * V, to * V) : { fd: src.fd, position: src.position + from * V * 4 });
        const part: ScoreTask = { vocab: V, targets: task.targets.slice(from, to), ann: cut(whole.ann), snn: whole.snn.map(cut) };
        return to > from ? pool.run(part) : Promise.resolve(scorePositions(part));
      });
      return concat(await Promise.all(parts), task.snn.length);
    } finally {
      this.used = 0;
    }
  }

  /** `rows` copied into the chunk's next shared buffer (kept and reused by the chunks after it). */
  private share(rows: Float32Array): Float32Array {
    let buffer = this.buffers[this.used];
    if (!buffer || buffer.byteLength < rows.byteLength) this.buffers[this.used] = buffer = new SharedArrayBuffer(rows.byteLength);
    this.used += 1;
    const view = new Float32Array(buffer, 0, rows.length);
    view.set(rows);
    return view;
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/** One chunk's figures from its parts' (each [sources × part rows]), in position order. */
function concat(parts: readonly PositionScores[], sources: number): PositionScores {
  if (parts.length === 1) return parts[0]!;
  const rows = parts.reduce((a, p) => a + p.annLogp.length, 0);
  const out: PositionScores = { annLogp: new Float64Array(rows), snnLogp: new Float64Array(sources * rows), agree: new Uint8Array(sources * rows), kl: new Float64Array(sources * rows) };
  let at = 0;
  for (const p of parts) {
    const r = p.annLogp.length;
    out.annLogp.set(p.annLogp, at);
    for (let i = 0; i < sources; i++) {
      out.snnLogp.set(p.snnLogp.subarray(i * r, (i + 1) * r), i * rows + at);
      out.agree.set(p.agree.subarray(i * r, (i + 1) * r), i * rows + at);
      out.kl.set(p.kl.subarray(i * r, (i + 1) * r), i * rows + at);
    }
    at += r;
  }
  return out;
}
