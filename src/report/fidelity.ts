// The report's fidelity curve: SNN against ANN per T on the report's windows, one model in memory at a time.
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../util/temp-paths.js';
import { retarget } from '../calibrate/timesteps.js';
import { openGraphSession } from '../open/graph-session.js';
import { parseTimesteps } from '../options/values.js';
import { sessionThreads } from '../runtime/session.js';
import { runInChunks } from './chunks.js';
import { ScorePool, type LogitRows } from './score.js';
import type { ReportSource } from './source.js';
import type { FidelityReport, FidelityRow } from './types.js';

/**
 * Perplexity of both models, top-1 agreement and KL(ANN ‖ SNN) per position, as evaluate() computes
 * them with windows = stride = the window (every position but the last predicts the next token). Each
 * window is fed in chunks (the logits are those of the whole window: cached ≡ recomputed). The ANN runs
 * once and its logits go to a temp file, chunk by chunk; its session is released before any SNN opens,
 * so one model and one chunk of logits of each are in memory at a time. The bundle is retargeted for
 * each T other than its own. `ownLogits`: the SNN's logits at its own T on these windows, already written
 * by the spike pass (its spike-counts form gives the closed form's logits bit for bit, docs/design.md §5),
 * read back instead of running the SNN a second time, and scored in the same pass as the first T that runs.
 * `whileAnnOpen` runs after the ANN's pass, before its session is released (the throughput curve's ANN side).
 */
export async function fidelityCurve(source: ReportSource, windows: readonly (readonly number[])[], sweep: readonly number[], opts: { readonly chunk: number; readonly progress: (message: string, done?: number, total?: number) => void; readonly ownLogits?: number; readonly whileAnnOpen?: () => Promise<void> }): Promise<FidelityReport> {
  const Ts = [...new Set([...sweep, source.timesteps])].sort((a, b) => a - b);
  const V = source.spec.vocabSize;
  const { path: dir, remove } = makeTempDir('snnconvert-fidelity-');
  const file = join(dir, 'ann-logits.f32');
  try {
    const fd = openSync(file, 'w+');
    try {
      opts.progress('fidelity: ANN', 0, Ts.length + 1);
      const ann = await source.session(true);
      for (const ids of windows) {
        await runInChunks(ann, ids, { chunk: opts.chunk }, (out) => { writeSync(fd, new Uint8Array(out.logits.buffer, out.logits.byteOffset, out.logits.byteLength)); });
      }
      await opts.whileAnnOpen?.();
      await source.releaseSession(true);
      // The own T's logits, when the spike pass wrote them, are scored beside the first T that runs (one pass over the ANN's).
      const fromOwn = opts.ownLogits !== undefined ? () => fileReader(opts.ownLogits!, V) : null;
      const runs = Ts.filter((T) => !(T === source.timesteps && fromOwn));
      const scored = new Map<number, Omit<FidelityRow, 'timesteps'>>();
      if (runs.length === 0) {
        const [own] = await compare(fromFile(fromOwn!(), windows, opts.chunk), [], fd, windows, V);
        scored.set(source.timesteps, own!);
      }
      for (const [i, T] of runs.entries()) {
        opts.progress('fidelity vs T', i + 1, runs.length + 1);
        const own = T === source.timesteps;
        const snn = own ? await source.session(false) : await openGraphSession(retarget(source.graph, parseTimesteps(T, '--sweep')), 'snn');
        try {
          const besides = i === 0 && fromOwn ? [fromOwn()] : [];
          const [row, ownRow] = await compare(fromSession(snn, windows, opts.chunk), besides, fd, windows, V);
          scored.set(T, row!);
          if (ownRow) scored.set(source.timesteps, ownRow);
        } finally {
          if (own) await source.releaseSession(false); else await snn.release();
        }
      }
      const window = windows[0]?.length ?? 0;
      return { tokens: window * windows.length, windows: windows.length, window, rows: Ts.map((T) => ({ timesteps: T, ...scored.get(T)! })) };
    } finally {
      closeSync(fd);
    }
  } finally {
    remove();
  }
}

/** SNN logits chunk by chunk: `visit(logits, window, start, length)` for every chunk of every window, in order. */
type LogitChunks = (visit: (logits: LogitRows, window: number, start: number, length: number) => Promise<void>) => Promise<void>;

/** Rows of logits written one after another into `fd`, given out in order: `next(rows)` is where the next `rows` rows lie. */
interface LogitReader { next(rows: number): LogitRows }

function fileReader(fd: number, V: number): LogitReader {
  let position = 0;
  return {
    next: (rows) => {
      const at = { fd, position };
      position += rows * V * 4;
      return at;
    },
  };
}

function fromSession(snn: Awaited<ReturnType<ReportSource['session']>>, windows: readonly (readonly number[])[], chunk: number): LogitChunks {
  return async (visit) => {
    for (const [w, ids] of windows.entries()) await runInChunks(snn, ids, { chunk }, (out, start, length) => visit(out.logits, w, start, length));
  };
}

/** Logits read back in chunks of `chunk` tokens, window by window. */
function fromFile(reader: LogitReader, windows: readonly (readonly number[])[], chunk: number): LogitChunks {
  return async (visit) => {
    for (const [w, ids] of windows.entries()) {
      for (let start = 0; start < ids.length; start += chunk) {
        const length = Math.min(chunk, ids.length - start);
        await visit(reader.next(length), w, start, length);
      }
    }
  };
}

/**
 * Scores SNN logits at each position against the ANN's, read back from `fd` in the same order: those of
 * `snn`, then those `besides` reads alongside. Each chunk is scored on the pool's threads (score.ts: the
 * ANN's log-softmax, probabilities and top token once per position for all of them) and its figures are
 * summed here in position order, so the sums are those of one comparison at a time, bit for bit.
 */
async function compare(snn: LogitChunks, besides: readonly LogitReader[], fd: number, windows: readonly (readonly number[])[], V: number): Promise<Omit<FidelityRow, 'timesteps'>[]> {
  const n = 1 + besides.length;
  const nllS = new Float64Array(n), agree = new Float64Array(n), kl = new Float64Array(n);
  let nllA = 0, tokens = 0;
  const ann = fileReader(fd, V);
  const pool = new ScorePool(sessionThreads());
  try {
    await snn(async (logits, w, start, length) => {
      const ids = windows[w]!;
      const targets = Int32Array.from({ length }, (_, j) => (start + j < ids.length - 1 ? ids[start + j + 1]! : -1));
      const scores = await pool.score({ vocab: V, targets, ann: ann.next(length), snn: [logits, ...besides.map((r) => r.next(length))] });
      for (let j = 0; j < length; j++) {
        if (targets[j]! < 0) continue;
        nllA -= scores.annLogp[j]!;
        tokens += 1;
        for (let i = 0; i < n; i++) {
          nllS[i]! -= scores.snnLogp[i * length + j]!;
          agree[i]! += scores.agree[i * length + j]!;
          kl[i]! += scores.kl[i * length + j]!;
        }
      }
    });
  } finally {
    await pool.close();
  }
  const annPpl = Math.exp(nllA / tokens);
  return Array.from({ length: n }, (_, i) => {
    const snnPpl = Math.exp(nllS[i]! / tokens);
    return { annPpl, snnPpl, ratio: snnPpl / annPpl, top1Agreement: agree[i]! / tokens, kl: kl[i]! / tokens };
  });
}
