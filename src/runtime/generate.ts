// The token-by-token generation loop: sampling, streaming text (whole characters only), stop strings and EOS.
import { SnnError } from '../errors/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { checkSamplingOptions, createRng, sampleToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most (default 64). */
  readonly maxNewTokens?: number;
  /** PRNG seed for sampling (default 0): the same seed, prompt and options give the same tokens. */
  readonly seed?: number;
  /** Stop when the generated text contains one of these; the text stops before it. */
  readonly stop?: readonly string[];
  /** End-of-sequence id(s) (default: the model's); `null` to never stop on a token. */
  readonly eos?: number | readonly number[] | null;
  /** The conversation to continue (default: a private one, removed afterwards). */
  readonly batchId?: string;
}

export type FinishReason = 'eos' | 'stop' | 'length';

/** One generated token and the text it adds (held-back text comes out with a later piece). */
export interface GeneratedPiece {
  readonly tokenId: number;
  readonly text: string;
  /** Set on the last piece only. An EOS piece has empty text. */
  readonly finishReason?: FinishReason;
}

/** Feeds tokens to the conversation and returns the logits of the last one. */
export type StepFn = (ids: readonly number[]) => Promise<Float32Array>;

export interface GenerationContext {
  readonly tokenizer: Tokenizer;
  /** The model's EOS id(s), used when `opts.eos` is absent. */
  readonly defaultEos: readonly number[];
  /** Tokens already in the conversation before the prompt (for the repetition penalty, as HF's input_ids). */
  readonly history: readonly number[];
}

export function checkGenerateOptions(opts: GenerateOptions): void {
  checkSamplingOptions(opts);
  if (opts.maxNewTokens !== undefined && !(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 1)) {
    throw new SnnError('OPTION_INVALID', { message: `maxNewTokens must be an integer ≥ 1, got ${String(opts.maxNewTokens)}`, at: 'maxNewTokens' });
  }
  if (opts.stop !== undefined && !(Array.isArray(opts.stop) && opts.stop.every((s) => typeof s === 'string' && s.length > 0))) {
    throw new SnnError('OPTION_INVALID', { message: 'stop must be a list of non-empty strings', at: 'stop' });
  }
}

/** Runs the loop: prompt → sample → feed the sample → … until EOS, a stop string or maxNewTokens. */
export async function* generateTokens(step: StepFn, prompt: readonly number[], opts: GenerateOptions, ctx: GenerationContext): AsyncGenerator<GeneratedPiece> {
  const maxNew = opts.maxNewTokens ?? 64;
  const eos = new Set(opts.eos === undefined ? ctx.defaultEos : opts.eos === null ? [] : typeof opts.eos === 'number' ? [opts.eos] : opts.eos);
  const rng = createRng(opts.seed ?? 0);
  const seen = new Set([...ctx.history, ...prompt]);
  const text = new TextStream(ctx.tokenizer);
  const stops = new StopMatcher(opts.stop ?? []);
  let logits = await step(prompt);
  for (let i = 0; ; i++) {
    const tokenId = sampleToken(logits, opts, rng, seen);
    seen.add(tokenId);
    if (eos.has(tokenId)) {
      yield { tokenId, text: stops.flush() + text.flush(), finishReason: 'eos' };
      return;
    }
    const { emit, stopped } = stops.push(text.push(tokenId));
    if (stopped) {
      yield { tokenId, text: emit, finishReason: 'stop' };
      return;
    }
    if (i === maxNew - 1) {
      yield { tokenId, text: emit + stops.flush() + text.flush(), finishReason: 'length' };
      return;
    }
    yield { tokenId, text: emit };
    logits = await step([tokenId]);
  }
}

/**
 * Decodes a growing token list into text deltas. It decodes the whole list each time (a suffix alone
 * can decode differently, e.g. SentencePiece's leading space) and holds back a trailing U+FFFD, the
 * mark of a character whose bytes are not all there yet.
 */
export class TextStream {
  private readonly ids: number[] = [];
  private emitted = 0;

  constructor(private readonly tokenizer: Tokenizer) {}

  push(id: number): string {
    this.ids.push(id);
    const text = this.tokenizer.decode(this.ids);
    const stable = text.endsWith('\uFFFD') ? text.replace(/\uFFFD+$/, '') : text;
    if (stable.length < this.emitted) return '';
    const delta = stable.slice(this.emitted);
    this.emitted = stable.length;
    return delta;
  }

  /** Whatever is still held back (an incomplete character at the very end). */
  flush(): string {
    const text = this.tokenizer.decode(this.ids);
    const rest = text.slice(this.emitted);
    this.emitted = text.length;
    return rest;
  }
}

/**
 * Streams text while watching for stop strings: it holds back the longest tail that could still
 * begin a stop string, so no part of a stop string is ever emitted.
 * @example
 * const m = new StopMatcher(['\nUser:']);
 * m.push('Hi\nUs'); // { emit: 'Hi', stopped: false }
 * m.push('er: x');  // { emit: '', stopped: true }
 */
export class StopMatcher {
  private held = '';

  constructor(private readonly stops: readonly string[]) {}

  push(text: string): { emit: string; stopped: boolean } {
    this.held += text;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.held.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const emit = this.held.slice(0, cut);
      this.held = '';
      return { emit, stopped: true };
    }
    const keep = this.heldTail();
    const emit = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return { emit, stopped: false };
  }

  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest suffix of `held` that is a proper prefix of a stop string. */
  private heldTail(): number {
    let best = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.held.length); n > best; n--) {
        if (this.held.endsWith(s.slice(0, n))) { best = n; break; }
      }
    }
    return best;
  }
}
