// The report's fidelity curve: SNN against ANN per T on the report's windows, each window run in chunks over the KV cache.
import { retarget } from '../calibrate/timesteps.js';
import { openGraphSession, type ModelSession } from '../runtime/session.js';
import { logSoftmaxRow } from '../runtime/windows.js';
import { chunkInput } from './chunks.js';
import type { ReportSource } from './source.js';
import type { FidelityReport, FidelityRow } from './types.js';

/**
 * Perplexity of both models, top-1 agreement and KL(ANN ‖ SNN) per position, as evaluate() computes
 * them with windows = stride = `window` (every position but the last predicts the next token), with
 * each window fed in chunks: the logits are those of the whole window (cached ≡ recomputed), while a
 * call holds only a chunk's logits. The bundle is retargeted for each T other than its own.
 */
export async function fidelityCurve(source: ReportSource, windows: readonly (readonly number[])[], sweep: readonly number[], opts: { readonly chunk: number; readonly progress: (message: string, done?: number, total?: number) => void }): Promise<FidelityReport> {
  const Ts = [...new Set([...sweep, source.timesteps])].sort((a, b) => a - b);
  const rows: FidelityRow[] = [];
  for (const [i, T] of Ts.entries()) {
    opts.progress('fidelity vs T', i, Ts.length);
    const own = T === source.timesteps;
    const snn = own ? await source.session(false) : await openGraphSession(retarget(source.graph, T), 'snn');
    try {
      rows.push({ timesteps: T, ...(await compare(await source.session(true), snn, windows, source.spec.vocabSize, opts.chunk)) });
    } finally {
      if (!own) await snn.release();
    }
  }
  const window = windows[0]?.length ?? 0;
  return { tokens: window * windows.length, windows: windows.length, window, rows };
}

async function compare(ann: ModelSession, snn: ModelSession, windows: readonly (readonly number[])[], V: number, chunk: number): Promise<Omit<FidelityRow, 'timesteps'>> {
  const pa = new Float64Array(V);
  const ps = new Float64Array(V);
  let nllA = 0, nllS = 0, agree = 0, kl = 0, tokens = 0;
  for (const ids of windows) {
    // ANN and SNN step through the window side by side: one chunk of logits of each is held at a time.
    let cacheA: Float32Array[] = [];
    let cacheS: Float32Array[] = [];
    for (let start = 0; start < ids.length; start += chunk) {
      const part = ids.slice(start, start + chunk);
      const a = await ann.run(chunkInput(part, start, cacheA));
      const s = await snn.run(chunkInput(part, start, cacheS));
      cacheA = a.present;
      cacheS = s.present;
      for (let j = 0; j < part.length && start + j < ids.length - 1; j++) {
        const target = ids[start + j + 1]!;
        logSoftmaxRow(a.logits, j * V, V, pa);
        logSoftmaxRow(s.logits, j * V, V, ps);
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
    }
  }
  const annPpl = Math.exp(nllA / tokens);
  const snnPpl = Math.exp(nllS / tokens);
  return { annPpl, snnPpl, ratio: snnPpl / annPpl, top1Agreement: agree / tokens, kl: kl / tokens };
}
