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
 * read back instead of running the SNN a second time.
 */
export async function fidelityCurve(source: ReportSource, windows: readonly (readonly number[])[], sweep: readonly number[], opts: { readonly chunk: number; readonly progress: (message: string, done?: number, total?: number) => void; readonly ownLogits?: number }): Promise<FidelityReport> {
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
      await source.releaseSession(true);
      const rows: FidelityRow[] = [];
      for (const [i, T] of Ts.entries()) {
        opts.progress('fidelity vs T', i + 1, Ts.length + 1);
        const own = T === source.timesteps;
        if (own && opts.ownLogits !== undefined) {
          rows.push({ timesteps: T, ...(await compare(fromFile(opts.ownLogits, windows, V, opts.chunk), fd, windows, V)) });
          continue;
        }
        const snn = own ? await source.session(false) : await openGraphSession(retarget(source.graph, parseTimesteps(T, '--sweep')), 'snn');
        try {
          rows.push({ timesteps: T, ...(await compare(fromSession(snn, windows, opts.chunk), fd, windows, V)) });
        } finally {
          if (own) await source.releaseSession(false); else await snn.release();
        }
      }
      const window = windows[0]?.length ?? 0;
      return { tokens: window * windows.length, windows: windows.length, window, rows };
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SNN logits chunk by chunk: `visit(logits, window, start, length)` for every chunk of every window, in order. */
type LogitChunks = (visit: (logits: Float32Array, window: number, start: number, length: number) => void) => Promise<void>;

function fromSession(snn: Awaited<ReturnType<ReportSource['session']>>, windows: readonly (readonly number[])[], chunk: number): LogitChunks {
  return async (visit) => {
    for (const [w, ids] of windows.entries()) await runInChunks(snn, ids, { chunk }, (out, start, length) => visit(out.logits, w, start, length));
  };
}

/** Logits written row after row (window by window) into `fd`, read back in chunks of `chunk` tokens. */
function fromFile(fd: number, windows: readonly (readonly number[])[], V: number, chunk: number): LogitChunks {
  return async (visit) => {
    let position = 0;
    for (const [w, ids] of windows.entries()) {
      for (let start = 0; start < ids.length; start += chunk) {
        const length = Math.min(chunk, ids.length - start);
        const logits = new Float32Array(length * V);
        readSync(fd, new Uint8Array(logits.buffer), 0, logits.byteLength, position);
        position += logits.byteLength;
        visit(logits, w, start, length);
      }
    }
  };
}

/** Scores the SNN's logits at each position against the ANN's, read back from `fd` in the same order. */
async function compare(snn: LogitChunks, fd: number, windows: readonly (readonly number[])[], V: number): Promise<Omit<FidelityRow, 'timesteps'>> {
  const pa = new Float64Array(V);
  const ps = new Float64Array(V);
  let nllA = 0, nllS = 0, agree = 0, kl = 0, tokens = 0;
  let position = 0;
  await snn((logits, w, start, length) => {
    const ids = windows[w]!;
    const la = new Float32Array(length * V);
    readSync(fd, new Uint8Array(la.buffer), 0, la.byteLength, position);
    position += la.byteLength;
    for (let j = 0; j < length && start + j < ids.length - 1; j++) {
      const target = ids[start + j + 1]!;
      logSoftmaxRow(la, j * V, V, pa);
      logSoftmaxRow(logits, j * V, V, ps);
      nllA -= pa[target]!;
      nllS -= ps[target]!;
      tokens += 1;
      let am = 0, sm = 0, k = 0;
      for (let v = 0; v < V; v++) {
        if (pa[v]! > pa[am]!) am = v;
        if (ps[v]! > ps[sm]!) sm = v;
        k += Math.exp(pa[v]!) * (pa[v]! - ps[v]!);
      }
      if (am === sm) agree += 1;
      kl += k;
    }
  });
  const annPpl = Math.exp(nllA / tokens);
  const snnPpl = Math.exp(nllS / tokens);
  return { annPpl, snnPpl, ratio: snnPpl / annPpl, top1Agreement: agree / tokens, kl: kl / tokens };
}
