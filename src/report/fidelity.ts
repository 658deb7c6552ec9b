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
 * each T other than its own.
 */
export async function fidelityCurve(source: ReportSource, windows: readonly (readonly number[])[], sweep: readonly number[], opts: { readonly chunk: number; readonly progress: (message: string, done?: number, total?: number) => void }): Promise<FidelityReport> {
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
        const snn = own ? await source.session(false) : await openGraphSession(retarget(source.graph, parseTimesteps(T, '--sweep')), 'snn');
        try {
          rows.push({ timesteps: T, ...(await compare(snn, fd, windows, V, opts.chunk)) });
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

/** Runs the SNN over the windows and scores each position against the ANN's logits read back from `fd`. */
async function compare(snn: Awaited<ReturnType<ReportSource['session']>>, fd: number, windows: readonly (readonly number[])[], V: number, chunk: number): Promise<Omit<FidelityRow, 'timesteps'>> {
  const pa = new Float64Array(V);
  const ps = new Float64Array(V);
  let nllA = 0, nllS = 0, agree = 0, kl = 0, tokens = 0;
  let position = 0;
  for (const ids of windows) {
    await runInChunks(snn, ids, { chunk }, (out, start, length) => {
      const la = new Float32Array(length * V);
      readSync(fd, new Uint8Array(la.buffer), 0, la.byteLength, position);
      position += la.byteLength;
      for (let j = 0; j < length && start + j < ids.length - 1; j++) {
        const target = ids[start + j + 1]!;
        logSoftmaxRow(la, j * V, V, pa);
        logSoftmaxRow(out.logits, j * V, V, ps);
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
  }
  const annPpl = Math.exp(nllA / tokens);
  const snnPpl = Math.exp(nllS / tokens);
  return { annPpl, snnPpl, ratio: snnPpl / annPpl, top1Agreement: agree / tokens, kl: kl / tokens };
}
