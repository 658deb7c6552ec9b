// The report's fidelity curve: SNN against ANN per T on the report's windows, one model in memory at a time.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { retarget } from '../calibrate/timesteps.js';
import { openGraphSession } from '../open/graph-session.js';
import { parseTimesteps } from '../options/values.js';
import { logSoftmaxRow } from '../runtime/windows.js';
import { runInChunks } from './chunks.js';
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
  const dir = mkdtempSync(join(tmpdir(), 'snnconvert-fidelity-'));
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
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SNN logits chunk by chunk: `visit(logits, window, start, length)` for every chunk of every window, in order. */
type LogitChunks = (visit: (logits: Float32Array, window: number, start: number, length: number) => void) => Promise<void>;

/** Logits written row after row into `fd`, read back in order: `next(rows)` gives the next `rows` rows. */
interface LogitReader { next(rows: number): Float32Array }

function fileReader(fd: number, V: number): LogitReader {
  let position = 0;
  return {
    next: (rows) => {
      const logits = new Float32Array(rows * V);
      readSync(fd, new Uint8Array(logits.buffer), 0, logits.byteLength, position);
      position += logits.byteLength;
      return logits;
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
        visit(reader.next(length), w, start, length);
      }
    }
  };
}

/**
 * Scores SNN logits at each position against the ANN's, read back from `fd` in the same order: those of
 * `snn`, then those `besides` reads alongside. The ANN's log-softmax, probabilities and top token are
 * computed once per position for all of them (the sums are those of one comparison at a time, bit for bit).
 */
async function compare(snn: LogitChunks, besides: readonly LogitReader[], fd: number, windows: readonly (readonly number[])[], V: number): Promise<Omit<FidelityRow, 'timesteps'>[]> {
  const pa = new Float64Array(V);
  const ea = new Float64Array(V);
  const ps = new Float64Array(V);
  const n = 1 + besides.length;
  const nllS = new Float64Array(n), agree = new Float64Array(n), kl = new Float64Array(n);
  let nllA = 0, tokens = 0;
  const ann = fileReader(fd, V);
  await snn((logits, w, start, length) => {
    const ids = windows[w]!;
    const la = ann.next(length);
    const all = [logits, ...besides.map((r) => r.next(length))];
    for (let j = 0; j < length && start + j < ids.length - 1; j++) {
      const target = ids[start + j + 1]!;
      logSoftmaxRow(la, j * V, V, pa);
      nllA -= pa[target]!;
      tokens += 1;
      let am = 0;
      for (let v = 0; v < V; v++) {
        if (pa[v]! > pa[am]!) am = v;
        ea[v] = Math.exp(pa[v]!);
      }
      for (const [i, ls] of all.entries()) {
        logSoftmaxRow(ls, j * V, V, ps);
        nllS[i]! -= ps[target]!;
        let sm = 0, k = 0;
        for (let v = 0; v < V; v++) {
          if (ps[v]! > ps[sm]!) sm = v;
          k += ea[v]! * (pa[v]! - ps[v]!);
        }
        if (am === sm) agree[i]! += 1;
        kl[i]! += k;
      }
    }
  });
  const annPpl = Math.exp(nllA / tokens);
  return Array.from({ length: n }, (_, i) => {
    const snnPpl = Math.exp(nllS[i]! / tokens);
    return { annPpl, snnPpl, ratio: snnPpl / annPpl, top1Agreement: agree[i]! / tokens, kl: kl[i]! / tokens };
  });
}
