// TemporalSpikeProcessor: per-conversation KV state over one session, batched forward with a context policy, generation.
import { SnnError } from '../errors/index.js';
import type { ModelSpec } from '../ir/types.js';
import { disposeUnused, hostBlocks, type KvBlock } from './device-kv.js';
import { EMPTY_STATE, KEY_ALIGNMENT, packSteps, truncateState, unpackStep, type ConversationState, type RowPlan, type RowResult } from './batch.js';
import { checkBatchIds, checkRows, type InputIds } from './forward-input.js';
import { checkGenerateOptions, generateTokens, type GeneratedPiece, type GenerateOptions } from './generate.js';
import type { RunnableModel } from './model.js';
import type { KvStepOutput, ModelSession } from './session.js';

export type OverflowPolicy = 'error' | 'slide';

export interface TspOptions {
  /** Most tokens a conversation holds (default and maximum: the model's positions). */
  readonly maxContextLength?: number;
  /** When a conversation would exceed the context: throw CONTEXT_OVERFLOW (default) or slide the window. */
  readonly overflow?: OverflowPolicy;
  /** Tokens of history kept when the window slides (default: half the context), fewer if the new tokens need the room. */
  readonly slideKeep?: number;
  /** Run the source ANN instead of the SNN: the same code path for every comparison (default: ANN only when there is no SNN). */
  readonly ann?: boolean;
  /**
   * Key-slot alignment of packed rows (default 16, see KEY_ALIGNMENT): batched rows then equal running
   * alone bit for bit on CPU. 1 packs tightest, at the price of rounding-level differences between a
   * row alone and batched, which a spiking model can amplify.
   */
  readonly batchAlignment?: number;
  /**
   * Longest feed per session call: longer prompts run through the cache in chunks of this many tokens,
   * which bounds the S×S attention tensors of a prefill (exact: cached ≡ recomputed, tested bit for bit).
   * Default DEFAULT_PREFILL_CHUNK; 0 feeds every prompt whole.
   */
  readonly prefillChunk?: number;
}

/** Default prefill chunk: a 512-token prompt runs as two calls of 256. */
export const DEFAULT_PREFILL_CHUNK = 256;

export interface ForwardOptions {
  /** Same shape as the ids; 0 marks padding, which is neither fed to the conversation nor cached. */
  readonly attentionMask?: InputIds;
  /** true (default): continue each row's conversation and keep its state; false: a stateless full forward. */
  readonly useCache?: boolean;
  /** One conversation id per row (default "0", "1", …). An unknown id starts a new conversation. */
  readonly batchIds?: readonly string[];
  /**
   * 'all' (default): the logits of every real token. 'last': only each row's last real token's
   * (`logits` [batch, 1, vocab], `rowLogits` [1, vocab] per row), all that sampling the next token
   * needs: a long prompt's prefill then holds one chunk's logits, not every position's (a 7 000-token
   * prompt over a 151 936-token vocabulary is 4.3 GB a copy).
   */
  readonly logits?: 'all' | 'last';
}

export interface ForwardOutput {
  /** [batch, seq, vocab] in the input's layout; zeros where the mask is 0 and past the end of a shorter row. */
  readonly logits: Float32Array;
  readonly dims: readonly [number, number, number];
  /** Per row, the logits of its real tokens in order, [n, vocab]. */
  readonly rowLogits: readonly Float32Array[];
  /** Per row, the position ids fed to the model with its real tokens (read back from the session input). */
  readonly positionIds: readonly (readonly number[])[];
  /** Per row, the cached tokens dropped by a slide of the window in this call (0 unless overflow 'slide'). */
  readonly dropped: readonly number[];
  /** The conversation of each row (empty when useCache is false). */
  readonly batchIds: readonly string[];
}

/**
 * Runs a model (a .snn bundle's SNN, or its ANN) over many conversations, each with its own KV
 * cache, positions and mask. Rows of different lengths share a session call, padded so that each
 * row's result is bit-identical to running it alone (see KEY_ALIGNMENT); decode steps of
 * conversations whose lengths differ mod 16 go in one call per class rather than pay 16× padding.
 * @example
 * const tsp = new TemporalSpikeProcessor(bundle, { maxContextLength: 128, overflow: 'slide' });
 * const out = await tsp.forward([[72, 105], [79]], { batchIds: ['alice', 'bob'] });
 * out.positionIds; // [[0, 1], [0]]
 * for await (const piece of tsp.generate([32], { batchId: 'bob', maxNewTokens: 8 })) process.stdout.write(piece.text);
 */
export class TemporalSpikeProcessor {
  readonly maxContextLength: number;
  readonly overflow: OverflowPolicy;
  readonly ann: boolean;
  private readonly slideKeep: number;
  private readonly batchAlignment: number;
  readonly prefillChunk: number;
  private readonly states = new Map<string, ConversationState>();
  private sessionPromise: Promise<ModelSession> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private privateIds = 0;

  constructor(readonly model: RunnableModel, opts: TspOptions = {}) {
    const max = model.spec.maxPositions;
    this.maxContextLength = opts.maxContextLength ?? max;
    if (!Number.isInteger(this.maxContextLength) || this.maxContextLength < 1 || this.maxContextLength > max) {
      throw new SnnError('OPTION_INVALID', { message: `maxContextLength must be an integer in [1, ${max}] (the model's positions), got ${String(opts.maxContextLength)}`, at: 'maxContextLength' });
    }
    this.overflow = opts.overflow ?? 'error';
    if (this.overflow !== 'error' && this.overflow !== 'slide') {
      throw new SnnError('OPTION_INVALID', { message: `overflow must be 'error' or 'slide', got ${JSON.stringify(opts.overflow)}`, at: 'overflow' });
    }
    this.slideKeep = opts.slideKeep ?? Math.floor(this.maxContextLength / 2);
    if (!Number.isInteger(this.slideKeep) || this.slideKeep < 0 || this.slideKeep >= this.maxContextLength) {
      throw new SnnError('OPTION_INVALID', { message: `slideKeep must be an integer in [0, ${this.maxContextLength}), got ${String(opts.slideKeep)}`, at: 'slideKeep' });
    }
    this.ann = opts.ann ?? model.timesteps === null;
    this.prefillChunk = opts.prefillChunk ?? DEFAULT_PREFILL_CHUNK;
    if (!Number.isInteger(this.prefillChunk) || this.prefillChunk < 0) {
      throw new SnnError('OPTION_INVALID', { message: `prefillChunk must be an integer ≥ 0 (0: no chunking), got ${String(opts.prefillChunk)}`, at: 'prefillChunk' });
    }
    this.batchAlignment = opts.batchAlignment ?? KEY_ALIGNMENT;
    if (!Number.isInteger(this.batchAlignment) || this.batchAlignment < 1) {
      throw new SnnError('OPTION_INVALID', { message: `batchAlignment must be an integer ≥ 1, got ${String(opts.batchAlignment)}`, at: 'batchAlignment' });
    }
  }

  get spec(): ModelSpec { return this.model.spec; }

  /**
   * Feeds new tokens. With the cache, each row continues its conversation (positions go on from its
   * length) and the call is transactional: if anything fails, no conversation changes.
   */
  forward(inputIds: InputIds, opts: ForwardOptions = {}): Promise<ForwardOutput> {
    return this.exclusive(() => this.forwardNow(inputIds, opts));
  }

  private async forwardNow(inputIds: InputIds, opts: ForwardOptions): Promise<ForwardOutput> {
    const rows = checkRows(inputIds, opts.attentionMask, this.spec.vocabSize);
    const useCache = opts.useCache ?? true;
    const ids = useCache ? checkBatchIds(opts.batchIds, rows.tokens.length) : [];
    const keep = opts.logits ?? 'all';
    if (keep !== 'all' && keep !== 'last') throw new SnnError('OPTION_INVALID', { message: `logits must be 'all' or 'last', got ${JSON.stringify(opts.logits)}`, at: 'forward: logits' });
    const planned = rows.tokens.map((tokens, r) => this.plan(useCache ? this.states.get(ids[r]!) ?? EMPTY_STATE : EMPTY_STATE, tokens, useCache ? label(ids[r]!) : `row ${r}`));
    const results = await this.run(planned.map((p) => p.plan), keep === 'last');
    // Commit only now that every call succeeded: a failure above leaves every conversation as it was.
    const retired: KvBlock[] = [];
    results.forEach((res, r) => {
      if (!useCache) { retired.push(...res.state.cache); return; }
      retired.push(...(this.states.get(ids[r]!)?.cache ?? []));
      this.states.set(ids[r]!, res.state);
    });
    this.retire(retired);
    const [B, all] = rows.dims;
    const S = keep === 'last' ? 1 : all;
    const V = this.spec.vocabSize;
    const logits = new Float32Array(B * S * V);
    if (keep === 'last') results.forEach((res, r) => logits.set(res.logits, r * V));
    else results.forEach((res, r) => rows.slots[r]!.forEach((k, i) => logits.set(res.logits.subarray(i * V, (i + 1) * V), (r * S + k) * V)));
    return {
      logits,
      dims: [B, S, V],
      rowLogits: results.map((res) => res.logits),
      positionIds: results.map((res) => res.positionIds),
      dropped: planned.map((p) => p.dropped),
      batchIds: ids,
    };
  }

  /**
   * Generates from `ids` appended to the conversation `opts.batchId` (or a private one), streaming a
   * piece per token. The last sampled token is not fed back: the next forward on the conversation
   * starts with whatever follows it.
   */
  async *generate(ids: readonly number[], opts: GenerateOptions = {}): AsyncGenerator<GeneratedPiece> {
    checkGenerateOptions(opts);
    const own = opts.batchId === undefined;
    const batchId = opts.batchId ?? this.privateId();
    const history = this.states.get(batchId)?.tokens ?? [];
    // Under 'slide' a prompt longer than the context keeps its last tokens, as the window would.
    const prompt = this.overflow === 'slide' ? ids.slice(-this.maxContextLength) : ids;
    let mine: ConversationState | null = null;
    // Each step checks, in the same exclusive section as its forward, that nobody reset or fed the
    // conversation since the last one: generating on top of a changed history would be a silent wrong answer.
    const step = (tokens: readonly number[]): Promise<Float32Array> => this.exclusive(async () => {
      if (mine !== null && this.states.get(batchId) !== mine) {
        throw new SnnError('INPUT_INVALID', { message: `conversation ${label(batchId)} was reset or fed while generate() was running on it`, at: 'generate', hint: 'wait for a generation to finish before resetting or feeding its conversation' });
      }
      const out = await this.forwardNow([tokens], { batchIds: [batchId], logits: 'last' });
      mine = this.states.get(batchId)!;
      return out.rowLogits[0]!;
    });
    try {
      yield* generateTokens(step, prompt, opts, { tokenizer: this.model.tokenizer, defaultEos: this.defaultEos(), history });
    } finally {
      if (own) {
        const retired = this.states.get(batchId)?.cache ?? [];
        this.states.delete(batchId);
        this.retire(retired);
      }
    }
  }

  /** Forgets one conversation, or all of them without an id (generations running on private ones go on). */
  resetCache(batchId?: string): void {
    const ids = batchId === undefined ? this.conversations() : [this.known(batchId)];
    if (batchId !== undefined && !this.states.has(ids[0]!)) throw this.unknown(batchId);
    const retired = ids.flatMap((id) => this.states.get(id)?.cache ?? []);
    for (const id of ids) this.states.delete(id);
    this.retire(retired);
  }

  /** The position ids fed with every token the conversation holds, oldest first. */
  getPositionIds(batchId: string): number[] {
    return [...this.state(batchId).positions];
  }

  /** The tokens the conversation holds (its cached history), oldest first. */
  getTokenIds(batchId: string): number[] {
    return [...this.state(batchId).tokens];
  }

  /** Keeps only the first `length` tokens of a conversation (exact: later tokens never change earlier K/V). */
  truncateCache(batchId: string, length: number): void {
    const state = this.state(batchId);
    if (!Number.isInteger(length) || length < 0 || length > state.tokens.length) {
      throw new SnnError('INPUT_INVALID', { message: `cannot keep ${String(length)} tokens of a conversation holding ${state.tokens.length}`, at: `truncateCache(${JSON.stringify(batchId)})` });
    }
    this.states.set(batchId, truncateState(this.spec, state, length));
    this.retire(state.cache);
  }

  /** The ids of the conversations held. */
  conversations(): string[] {
    return [...this.states.keys()].filter((id) => !id.startsWith('\u0000'));
  }

  /** Cached K/V floats held over all conversations (for memory checks). */
  cachedFloats(): number {
    let n = 0;
    for (const s of this.states.values()) for (const kv of s.cache) n += kv.length;
    return n;
  }

  async release(): Promise<void> {
    const retired = [...this.states.values()].flatMap((s) => s.cache);
    this.states.clear();
    this.retire(retired);
  }

  /**
   * Runs the rows, feeds longer than prefillChunk in consecutive chunks through each row's cache
   * (chunk r of every row in one call); results by row, as one unchunked call would give them. With
   * `lastOnly`, each row's logits are its last token's, and a chunk's others are dropped as it returns.
   */
  private async run(plans: readonly RowPlan[], lastOnly: boolean): Promise<RowResult[]> {
    const chunk = this.prefillChunk;
    const V = this.spec.vocabSize;
    // A copy, so a chunk's whole logits can be freed; a decode step's row is already the last token's.
    const tail = (logits: Float32Array): Float32Array => (logits.length === V ? logits : logits.slice(logits.length - V));
    if (chunk === 0 || plans.every((p) => p.feed.length <= chunk)) {
      const results = await this.runOnce(plans);
      return lastOnly ? results.map((res) => ({ ...res, logits: tail(res.logits) })) : results;
    }
    const states = plans.map((p) => p.base);
    const logits: Float32Array[][] = plans.map(() => []);
    const positions: number[][] = plans.map(() => []);
    for (let start = 0; plans.some((p) => start < p.feed.length); start += chunk) {
      const active = plans.flatMap((p, r) => (start < p.feed.length ? [r] : []));
      const parts = active.map((r): RowPlan => {
        const p = plans[r]!;
        const feed = p.feed.slice(start, start + chunk);
        const firstNew = p.feed.length - p.newCount;
        return { base: states[r]!, feed, newCount: Math.max(0, start + feed.length - Math.max(firstNew, start)) };
      });
      (await this.runOnce(parts)).forEach((res, i) => {
        const r = active[i]!;
        states[r] = res.state;
        if (lastOnly) logits[r] = [tail(res.logits)];
        else logits[r]!.push(res.logits);
        positions[r]!.push(...res.positionIds);
      });
    }
    return plans.map((_, r) => ({ state: states[r]!, logits: concatFloats(logits[r]!), positionIds: positions[r]! }));
  }

  /** Runs the rows in as few session calls as alignment allows; results by row. */
  private async runOnce(rows: readonly RowPlan[]): Promise<RowResult[]> {
    const session = await this.session();
    const results = new Map<number, RowResult>();
    // A lone conversation feeds its device-resident K/V as is; packing several rows is done on the host.
    const plans = rows.length === 1 ? rows : await Promise.all(rows.map(async (p) => ({ ...p, base: { ...p.base, cache: await hostBlocks(p.base.cache) } })));
    for (const packed of packSteps(this.spec, plans, this.batchAlignment)) {
      let output: KvStepOutput;
      try {
        output = await session.run(packed.input, [], { keepKv: true });
      } catch (cause) {
        if (cause instanceof SnnError) throw cause;
        throw new SnnError('RUN_FAILED', { message: (cause as Error)?.message ?? String(cause), at: this.model.name, cause });
      }
      for (const [r, res] of unpackStep(this.spec, plans, packed, output)) results.set(r, res);
    }
    return plans.map((_, r) => results.get(r)!);
  }

  /** Applies the context policy to one row: continue the cache, slide the window, or throw. */
  private plan(state: ConversationState, tokens: readonly number[], who: string): { plan: RowPlan; dropped: number } {
    const max = this.maxContextLength;
    const held = state.tokens.length;
    if (tokens.length > max) {
      throw new SnnError('CONTEXT_OVERFLOW', { message: `${tokens.length} new tokens for ${who} do not fit the context of ${max} tokens (maxContextLength)`, at: `forward(${who})`, hint: 'split the input into calls of at most maxContextLength tokens' });
    }
    if (held + tokens.length <= max) return { plan: { base: state, feed: tokens, newCount: tokens.length }, dropped: 0 };
    if (this.overflow === 'error') {
      throw new SnnError('CONTEXT_OVERFLOW', { message: `conversation ${who} holds ${held} tokens; ${tokens.length} more exceed the context of ${max} tokens (maxContextLength)`, at: `forward(${who})` });
    }
    // Slide: keep the newest history and recompute it from position 0 with the new tokens (positions stay < max).
    const keep = Math.min(held, this.slideKeep, max - tokens.length);
    return { plan: { base: EMPTY_STATE, feed: [...state.tokens.slice(held - keep), ...tokens], newCount: tokens.length }, dropped: held - keep };
  }

  private session(): Promise<ModelSession> {
    this.sessionPromise ??= this.model.session(this.ann).catch((e: unknown) => {
      this.sessionPromise = null;
      throw e;
    });
    return this.sessionPromise;
  }

  /** Frees the device K/V of retired states that no held conversation still uses. */
  private retire(blocks: readonly KvBlock[]): void {
    if (blocks.length > 0) disposeUnused(blocks, [...this.states.values()].flatMap((s) => s.cache));
  }

  /** Runs calls one at a time, so each reads and commits the state without interleaving. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private state(batchId: string): ConversationState {
    const s = this.states.get(this.known(batchId));
    if (!s) throw this.unknown(batchId);
    return s;
  }

  private known(batchId: string): string {
    if (typeof batchId !== 'string') throw new SnnError('INPUT_INVALID', { message: `batch id must be a string, got ${typeof batchId}`, at: 'batchId' });
    return batchId;
  }

  private unknown(batchId: string): SnnError {
    const held = this.conversations();
    return new SnnError('BATCH_UNKNOWN', { message: `no conversation ${JSON.stringify(batchId)} (held: ${held.length ? held.map((h) => JSON.stringify(h)).join(', ') : 'none'})`, at: batchId });
  }

  private privateId(): string {
    return `\u0000generate-${this.privateIds++}`;
  }

  private defaultEos(): number[] {
    const fromSpec = this.spec.eosTokenId;
    const ids = fromSpec === null ? [] : typeof fromSpec === 'number' ? [fromSpec] : [...fromSpec];
    const tok = this.model.tokenizer.eosTokenId;
    if (tok !== null && !ids.includes(tok)) ids.push(tok);
    return ids;
  }
}

function concatFloats(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) { out.set(p, offset); offset += p.length; }
  return out;
}

/** How a conversation is named in messages (a private generate() conversation has no public id). */
function label(batchId: string): string {
  return batchId.startsWith('\u0000') ? 'the generate() prompt' : JSON.stringify(batchId);
}
