// evaluate(): perplexity of the ANN and the SNN on the same windows, their ratio, top-1 agreement and KL (docs/design.md §6).
import { SnnError } from '../errors/index.js';
import { ClippingCounter, type ClippingReport } from './clipping.js';
import { Bundle, type RunnableModel } from './model.js';
import type { ModelSession } from './session.js';
import { logSoftmaxRow, windowInput, windowStarts } from './windows.js';

export interface EvaluateOptions {
  /** Default: the model's context length. */
  readonly window?: number;
  /** Default: the window. */
  readonly stride?: number;
  /** Only the ANN (a HF folder, or `--ann-only` on a bundle). */
  readonly annOnly?: boolean;
  /** Windows per forward call. */
  readonly batch?: number;
  /** Evaluate this SNN session instead of the model's own (a T sweep). */
  readonly snnSession?: ModelSession;
  /**
   * Count clipped neuron counts per site (weighted-code bundles; default true): the SNN then runs on
   * the bundle's stored form with spike planes and saturation outputs (same logits, more nodes).
   */
  readonly clipping?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
}

/** KL and top-1 agreement lead (the fidelity figures), the perplexity ratio follows. */
export interface EvaluateResult {
  /** Mean KL(ANN ‖ SNN) per position, in nats. */
  readonly kl: number | null;
  /** Share of positions where the SNN's argmax equals the ANN's. */
  readonly top1_agreement: number | null;
  /** SNN / ANN perplexity. */
  readonly ratio: number | null;
  readonly ann: { readonly ppl: number; readonly nll: number };
  readonly snn: { readonly ppl: number; readonly nll: number } | null;
  /** Largest |logit difference| seen. */
  readonly max_abs_logit_diff: number | null;
  readonly tokens: number;
  readonly windows: number;
  readonly window: number;
  readonly stride: number;
  readonly timesteps: number | null;
  /** Clipped neuron counts on this text, per site, with a warning when far above calibration; null when not counted. */
  readonly clipped: ClippingReport | null;
}

/**
 * Runs every window through the ANN (and the SNN unless annOnly), comparing them position by position.
 * @example
 * const r = await evaluate(bundle, bundle.tokenizer.encode(text));
 * console.log(r.ann.ppl, r.snn?.ppl, r.ratio);
 */
export async function evaluate(model: RunnableModel, ids: readonly number[], opts: EvaluateOptions = {}): Promise<EvaluateResult> {
  const window = opts.window ?? model.spec.maxPositions;
  const stride = opts.stride ?? window;
  if (window > model.spec.maxPositions) throw new SnnError('OPTION_INVALID', { message: `--window ${window} is longer than the model's context of ${model.spec.maxPositions} tokens`, at: '--window' });
  const starts = windowStarts(ids.length, window, stride);
  const ann = await model.session(true);
  const snn = opts.annOnly ? null : opts.snnSession ?? await model.session(false);
  // A weighted bundle's own session counts clipping on its stored spike-plane form (same logits, bit for bit).
  const saturation = !opts.snnSession && model instanceof Bundle && model.contents.graph.spiking?.code === 'weighted'
    ? model.contents.meta.neurons.map((n) => `saturation/${n.site}`) : snn ? ClippingCounter.outputsOf(snn) : [];
  const counter = snn && (opts.clipping ?? true) ? new ClippingCounter(saturation) : null;
  const V = model.spec.vocabSize;
  const pa = new Float64Array(V);
  const ps = new Float64Array(V);
  let nllA = 0, nllS = 0, agree = 0, kl = 0, maxDiff = 0, tokens = 0;
  const per = opts.batch ?? Math.max(1, Math.floor(1024 / window));
  for (let i = 0; i < starts.length; i += per) {
    const chunk = starts.slice(i, i + per);
    const input = windowInput(ids, chunk, window);
    const la = (await ann.run(input)).logits;
    const out = snn ? await snn.run(input, counter?.outputs ?? []) : null;
    if (out) counter?.add(out.extra);
    const ls = out ? out.logits : null;
    chunk.forEach((s, r) => {
      for (let j = 0; j < window - 1; j++) {
        const off = (r * window + j) * V;
        const target = ids[s + j + 1]!;
        logSoftmaxRow(la, off, V, pa);
        nllA -= pa[target]!;
        tokens += 1;
        if (!ls) continue;
        logSoftmaxRow(ls, off, V, ps);
        nllS -= ps[target]!;
        let am = 0, sm = 0, k = 0;
        for (let v = 0; v < V; v++) {
          if (pa[v]! > pa[am]!) am = v;
          if (ps[v]! > ps[sm]!) sm = v;
          k += Math.exp(pa[v]!) * (pa[v]! - ps[v]!);
          maxDiff = Math.max(maxDiff, Math.abs(la[off + v]! - ls[off + v]!));
        }
        if (am === sm) agree += 1;
        kl += k;
      }
    });
    opts.onProgress?.(Math.min(i + per, starts.length), starts.length);
  }
  const annR = { ppl: Math.exp(nllA / tokens), nll: nllA / tokens };
  const snnR = snn ? { ppl: Math.exp(nllS / tokens), nll: nllS / tokens } : null;
  const calibrationShare = model instanceof Bundle ? model.meta.calibration.clippedShare ?? 0 : 0;
  return {
    kl: snn ? kl / tokens : null,
    top1_agreement: snn ? agree / tokens : null,
    ratio: snnR ? snnR.ppl / annR.ppl : null,
    ann: annR, snn: snnR,
    max_abs_logit_diff: snn ? maxDiff : null,
    tokens, windows: starts.length, window, stride,
    timesteps: snn ? snn.timesteps : null,
    clipped: counter && counter.outputs.length > 0 ? counter.report(calibrationShare) : null,
  };
}
