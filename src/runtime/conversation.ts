// A multi-turn chat over one cached conversation: renders the transcript, feeds only what the cache lacks, streams replies.
import { SnnError } from '../errors/index.js';
import type { ChatMessage, Tokenizer } from '../tokenizer/tokenizer.js';
import type { GeneratedPiece, GenerateOptions } from './generate.js';
import type { TemporalSpikeProcessor } from './tsp.js';

export interface ConversationOptions extends Omit<GenerateOptions, 'batchId' | 'stop'> {
  /** The conversation's id in the processor (default "chat"). */
  readonly batchId?: string;
  /** A system message opening every rendering of the transcript. */
  readonly system?: string;
  /** Extra stop strings (the plain transcript always stops at "\nUser:"). */
  readonly stop?: readonly string[];
  /** Add the tokenizer's default special tokens (BOS) to a plain transcript (default true; a chat template adds its own). */
  readonly specialTokens?: boolean;
}

/** The plain transcript used when the tokenizer has no chat template. */
const LABELS: Record<ChatMessage['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant' };
const PLAIN_STOP = '\nUser:';

/**
 * Renders a transcript to tokens: the tokenizer's chat template when it has one, else
 * `User: …\nAssistant: …` lines, ending with the opening of the assistant's turn.
 * @example
 * renderTranscript(tok, [{ role: 'user', content: 'Hi' }]); // encodes "User: Hi\nAssistant:"
 */
export function renderTranscript(tokenizer: Tokenizer, messages: readonly ChatMessage[], opts: { readonly specialTokens?: boolean } = {}): number[] {
  if (tokenizer.hasChatTemplate) return tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  const lines = messages.map((m) => `${LABELS[m.role]}: ${m.content}`);
  return tokenizer.encodeInput(`${[...lines, `${LABELS.assistant}:`].join('\n')}`, { specialTokens: opts.specialTokens ?? true });
}

/** Length of the common prefix of two token lists. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * One chat. Each turn renders the whole (windowed) transcript, keeps the cached prefix that matches
 * it (as llama.cpp's prompt cache does), rewinds what differs (e.g. a stop string's start, or a
 * reply that re-tokenizes differently) and feeds only the rest; the reply streams from the cache.
 * Old turns are dropped from the transcript when it would not leave `maxNewTokens` of room, so
 * memory stays bounded however long the chat runs.
 * @example
 * const chat = new Conversation(new TemporalSpikeProcessor(bundle), { maxNewTokens: 48 });
 * for await (const piece of chat.say('Good morrow!')) process.stdout.write(piece.text);
 */
export class Conversation {
  private readonly turns: ChatMessage[] = [];
  private turnCount = 0;

  constructor(private readonly tsp: TemporalSpikeProcessor, private readonly opts: ConversationOptions = {}) {}

  get batchId(): string { return this.opts.batchId ?? 'chat'; }
  get messages(): readonly ChatMessage[] { return [...this.system(), ...this.turns]; }

  /** Adds a user message and streams the assistant's reply. */
  async *say(text: string): AsyncGenerator<GeneratedPiece> {
    if (text.trim().length === 0) throw new SnnError('INPUT_INVALID', { message: 'the message is empty', at: 'chat' });
    const tokenizer = this.tsp.model.tokenizer;
    const maxNew = Math.min(this.opts.maxNewTokens ?? 64, Math.floor(this.tsp.maxContextLength / 2));
    const user: ChatMessage = { role: 'user', content: text };
    const target = this.fitWindow(user, maxNew);
    const feed = this.rewindTo(target);
    let reply = '';
    const stop = tokenizer.hasChatTemplate ? this.opts.stop ?? [] : [PLAIN_STOP, ...(this.opts.stop ?? [])];
    const pieces = this.tsp.generate(feed, { ...this.opts, stop, maxNewTokens: maxNew, batchId: this.batchId, seed: (this.opts.seed ?? 0) + this.turnCount });
    this.turns.push(user);
    this.turnCount += 1;
    try {
      for await (const piece of pieces) {
        reply += piece.text;
        yield piece;
      }
    } finally {
      this.turns.push({ role: 'assistant', content: tokenizer.hasChatTemplate ? reply : reply.trim() });
    }
  }

  /** Forgets the transcript and the cache. */
  reset(): void {
    this.turns.length = 0;
    if (this.tsp.conversations().includes(this.batchId)) this.tsp.resetCache(this.batchId);
  }

  private system(): ChatMessage[] {
    return this.opts.system ? [{ role: 'system', content: this.opts.system }] : [];
  }

  /**
   * The transcript's tokens, leaving `maxNew` tokens of room for the reply. When it does not fit, the
   * oldest turns go until it fills at most half the room, so the recompute a changed start costs
   * comes every few turns rather than every turn (as llama.cpp's context shift discards half).
   */
  private fitWindow(user: ChatMessage, maxNew: number): number[] {
    const tokenizer = this.tsp.model.tokenizer;
    const room = this.tsp.maxContextLength - maxNew;
    const render = () => renderTranscript(tokenizer, [...this.messages, user], { specialTokens: this.opts.specialTokens ?? true });
    let tokens = render();
    if (tokens.length <= room) return tokens;
    while (this.turns.length > 0) {
      this.turns.splice(0, 2); // a user message and its reply
      tokens = render();
      if (tokens.length <= room / 2) return tokens;
    }
    if (tokens.length <= room) return tokens;
    throw new SnnError('CONTEXT_OVERFLOW', { message: `the message takes ${tokens.length} tokens; with ${maxNew} for the reply that exceeds the context of ${this.tsp.maxContextLength} tokens`, at: 'chat', hint: 'send a shorter message, or lower --max-new-tokens' });
  }

  /** Rewinds the cache to its longest prefix shared with `target` and returns the tokens still to feed (at least one). */
  private rewindTo(target: readonly number[]): number[] {
    const held = this.tsp.conversations().includes(this.batchId) ? this.tsp.getTokenIds(this.batchId) : [];
    // Exact even after the processor slid its window: a kept prefix was recomputed from position 0
    // with nothing before it, just as `target`'s first tokens would be.
    const shared = Math.min(commonPrefix(held, target), target.length - 1);
    if (shared < held.length) {
      if (shared === 0) this.tsp.resetCache(this.batchId);
      else this.tsp.truncateCache(this.batchId, shared);
    }
    return target.slice(shared);
  }
}
