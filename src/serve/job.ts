// One request's generation: sampling a token from each step's logits, streaming text, stop strings, EOS, logprobs.
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { StopMatcher, TextStream } from '../runtime/generate.js';
import { createRng, sampleToken, type Rng } from '../runtime/sampling.js';
import { Channel } from './channel.js';

export type FinishReason = 'stop' | 'length';

/** What a route asks the engine to generate. */
export interface JobRequest {
  /** The conversation to continue (`X-Session-Id` / `user`), or null for a private one dropped afterwards. */
  readonly sessionId: string | null;
  /** The whole prompt (the rendered transcript); the engine feeds only what the session lacks. */
  readonly prompt: readonly number[];
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topP: number;
  readonly seed: number;
  readonly stop: readonly string[];
  readonly eos: readonly number[];
  /** null: no logprobs; k ≥ 0: the chosen token's logprob and the k most likely alternatives. */
  readonly topLogprobs: number | null;
  /** OpenAI's penalties on the reply so far: logit −= frequency × count + presence × (count > 0). */
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
  /** Added to the logits of these token ids before sampling (`logit_bias`). */
  readonly logitBias: ReadonlyMap<number, number>;
  readonly signal?: AbortSignal;
}

export interface TokenLogprob {
  readonly token: string;
  readonly logprob: number;
  readonly top: readonly { readonly token: string; readonly logprob: number }[];
}

/** One sampled token and the text it releases; the last piece carries the finish reason. */
export interface JobPiece {
  /** Which choice of the request (0 … n−1). */
  readonly index: number;
  readonly tokenId: number;
  readonly text: string;
  readonly logprob?: TokenLogprob;
  readonly finishReason?: FinishReason;
}

export interface JobUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens reused from the session's cache (not fed again). */
  readonly cachedTokens: number;
}

let nextJob = 0;

/** A request in the engine: waiting, then active (one row of each batched step) until it finishes or is aborted. */
export class Job {
  readonly id = nextJob++;
  readonly pieces = new Channel<JobPiece>();
  /** Tokens to feed at the next step (the uncached prompt, then each sampled token). */
  feed: readonly number[] = [];
  cachedTokens = 0;
  generated = 0;
  done = false;
  readonly enqueuedAt = performance.now();
  private readonly rng: Rng;
  private readonly text: TextStream;
  private readonly stops: StopMatcher;
  private readonly eos: Set<number>;
  /** Times each token was generated so far (for the penalties). */
  private readonly counts = new Map<number, number>();

  constructor(readonly request: JobRequest, readonly conversationId: string, private readonly tokenizer: Tokenizer, readonly index = 0) {
    this.rng = createRng(request.seed);
    this.text = new TextStream(tokenizer);
    this.stops = new StopMatcher(request.stop);
    this.eos = new Set(request.eos);
  }

  get aborted(): boolean { return this.request.signal?.aborted ?? false; }

  get usage(): JobUsage {
    return { promptTokens: this.request.prompt.length, completionTokens: this.generated, cachedTokens: this.cachedTokens };
  }

  /** Samples from the last position's logits; returns false when the request is complete. */
  accept(logits: Float32Array): boolean {
    const r = this.request;
    const tokenId = sampleToken(this.adjusted(logits), { temperature: r.temperature, topP: r.topP }, this.rng);
    this.generated += 1;
    this.counts.set(tokenId, (this.counts.get(tokenId) ?? 0) + 1);
    const logprob = r.topLogprobs === null ? undefined : tokenLogprob(logits, tokenId, r.topLogprobs, this.tokenizer);
    if (this.eos.has(tokenId)) return this.finish({ index: this.index, tokenId, text: this.stops.flush() + this.text.flush(), ...(logprob ? { logprob } : {}), finishReason: 'stop' });
    const { emit, stopped } = this.stops.push(this.text.push(tokenId));
    if (stopped) return this.finish({ index: this.index, tokenId, text: emit, ...(logprob ? { logprob } : {}), finishReason: 'stop' });
    if (this.generated >= r.maxTokens) return this.finish({ index: this.index, tokenId, text: emit + this.stops.flush() + this.text.flush(), ...(logprob ? { logprob } : {}), finishReason: 'length' });
    this.emit({ index: this.index, tokenId, text: emit, ...(logprob ? { logprob } : {}) });
    this.feed = [tokenId];
    return true;
  }

  fail(error: unknown): void {
    this.done = true;
    this.pieces.fail(error);
  }

  /** Ends the stream without a finish piece (the client went away). */
  cancel(): void {
    this.done = true;
    this.pieces.end();
  }

  private finish(piece: JobPiece): false {
    this.emit(piece);
    this.done = true;
    this.pieces.end();
    return false;
  }

  private emit(piece: JobPiece): void {
    this.pieces.push(piece);
  }

  /** The logits with `logit_bias` and the penalties applied (a copy; the batch's row is left as is). */
  private adjusted(logits: Float32Array): Float32Array {
    const r = this.request;
    if (r.logitBias.size === 0 && ((r.presencePenalty === 0 && r.frequencyPenalty === 0) || this.counts.size === 0)) return logits;
    const out = Float32Array.from(logits);
    for (const [id, bias] of r.logitBias) out[id] = out[id]! + bias;
    for (const [id, count] of this.counts) out[id] = out[id]! - r.frequencyPenalty * count - r.presencePenalty;
    return out;
  }
}

/** log-softmax of the raw logits (the model's distribution, before temperature) at `tokenId`, and the k best. */
export function tokenLogprob(logits: Float32Array, tokenId: number, k: number, tokenizer: Tokenizer): TokenLogprob {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const logZ = max + Math.log(sum);
  const top: { token: string; logprob: number }[] = [];
  if (k > 0) {
    const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, k);
    for (const id of order) top.push({ token: tokenizer.decode([id]), logprob: logits[id]! - logZ });
  }
  return { token: tokenizer.decode([tokenId]), logprob: logits[tokenId]! - logZ, top };
}
