// evaluate(): perplexity of the ANN and the SNN on the same windows, their ratio, top-1 agreement and KL (docs/design.md §6).
import { SnnError } from '../errors/index.js';
import { ClippingCounter, type ClippingReport } from './clipping.js';
import { Bundle, type RunnableModel } from './model.js';
import type { ModelSession, StepInput } from './session.js';
import { logSoftmaxRow, rowsChunkInput, windowStarts } from './windows.js';
import type { ModelSpec } from '../ir/types.js';

type RunCache = StepInput['cache'];

/**
 * Bytes one eval call may hold beyond the loaded models. A window longer than the tokens this allows
 * runs in pieces through the KV cache (cached ≡ recomputed bit for bit, the runtime's contract, tested in
 * test/runtime/exact-state, so every figure is that of whole windows); shorter windows are batched up to
 * it. Whole windows of 1 024 tokens took distilgpt2-shaped's bundle to 5.4 GB and SmolLM2-135M-shaped's
 * to 9.2 GB (bench/RESULTS.md). A cost setting; no figure depends on it.
 */
export const EVAL_CALL_BYTES = 512 * 2 ** 20;

/** At most this many tokens a call: as many as eval fed per call before it ran windows in pieces. */
export const EVAL_MAX_CALL_TOKENS = 1024;

/**
 * Tokens one eval call feeds within EVAL_CALL_BYTES, from an upper estimate of what a call holds per
 * token (float32, doubled for the allocator): both models' logits; with clipping counted, every site's
 * saturation counts and T spike planes (`outputChannels`, the sites' channels summed), and the planes of
 * the widest site in flight (`widestChannels`); one layer's attention scores against the window; the
 * MLP's activations (at least 6× the hidden size wide: Qwen2.5-1.5B's MLP is 5.8×). The cost grows with the
 * vocabulary and the sites, so the ANN of distilgpt2 runs ~550 tokens a call and its bundle's SNN with
 * clipping ~110.
 */
export function evalCallTokens(spec: ModelSpec, window: number, snn: { readonly timesteps: number; readonly outputChannels: number; readonly widestChannels: number } | null): number {
  const widest = Math.max(6 * spec.hiddenSize, snn?.widestChannels ?? 0);
  const floats = 2 * spec.vocabSize + spec.numHeads * window + 2 * widest
    + (snn ? (snn.timesteps + 1) * snn.outputChannels + 2 * snn.timesteps * widest : 0);
  return Math.max(1, Math.min(EVAL_MAX_CALL_TOKENS, Math.floor(EVAL_CALL_BYTES / (8 * floats))));
}

export interface EvaluateOptions {
  /** Default: the model's context length. */
  readonly window?: number;
  /** Default: the window. */
  readonly stride?: number;
  /** Only the ANN (a HF folder, or `--ann-only` on a bundle). */
  readonly annOnly?: boolean;
  /** Tokens per call (default evalCallTokens): longer windows run in pieces over the KV cache, shorter ones are batched. */
  readonly chunk?: number;
  /** Windows per forward call (default: as many whole windows as fit in `chunk` tokens, at least one). */
  readonly batch?: number;
  /** Evaluate this SNN session instead of the model's own (a T sweep). */
  readonly snnSession?: ModelSession;
  /**
   * Count clipped neuron counts per site (weighted-code bundles; default true): the SNN then runs on
   * the bundle's stored form with spike planes and saturation outputs (same logits, more nodes).
   */
  readonly clipping?: boolean;
  /** Tokens run so far and in all (every window's, ANN and SNN together), after each call. */
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
  if (opts.chunk !== undefined && (!Number.isInteger(opts.chunk) || opts.chunk < 1)) throw new SnnError('OPTION_INVALID', { message: `the tokens per call must be a positive integer, got ${opts.chunk}`, at: 'evaluate: chunk' });
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
  const neurons = model instanceof Bundle ? model.contents.meta.neurons : [];
  const channels = new Map(neurons.map((n) => [`saturation/${n.site}`, n.channels]));
  const widestChannels = neurons.reduce((m, n) => Math.max(m, n.channels), 0);
  const outputChannels = (counter?.outputs ?? []).reduce((sum, name) => sum + (channels.get(name) ?? widestChannels), 0);
  const chunk = opts.chunk ?? evalCallTokens(model.spec, window, snn ? { timesteps: snn.timesteps ?? 1, outputChannels, widestChannels } : null);
  const step = Math.min(chunk, window);
  const per = opts.batch ?? Math.max(1, Math.floor(chunk / window));
  for (let i = 0; i < starts.length; i += per) {
    const rows = starts.slice(i, i + per).map((s) => ids.slice(s, s + window));
    let cacheA: RunCache = [], cacheS: RunCache = [];
    // Every position is run (the clipping counts cover whole windows); the last predicts nothing.
    for (let from = 0; from < window; from += step) {
      const to = Math.min(window, from + step);
      const input = rowsChunkInput(rows, from, to, cacheA);
      const outA = await ann.run(input);
      const outS = snn ? await snn.run({ ...input, cache: cacheS }, counter?.outputs ?? []) : null;
      [cacheA, cacheS] = [outA.present, outS?.present ?? []];
      if (outS) counter?.add(outS.extra);
      const la = outA.logits, ls = outS ? outS.logits : null;
      rows.forEach((row, r) => {
        for (let j = from; j < Math.min(to, window - 1); j++) {
          const off = (r * (to - from) + j - from) * V;
          const target = row[j + 1]!;
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
      opts.onProgress?.(i * window + rows.length * to, starts.length * window);
    }
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
