// Dialogues for the suite: read and validate the JSONL, render turns as "A: …\n" transcript lines that fit the context.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SnnError } from '../errors/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { DialogueRecord } from './types.js';

/** The committed Topical-Chat subset (fixtures/dialogues/PROVENANCE.md). */
export const DEFAULT_DIALOGUES = fileURLToPath(new URL('../../fixtures/dialogues/topical-chat-25.jsonl', import.meta.url));

const RECORD = z.object({
  conversation_id: z.string().min(1),
  turns: z.array(z.object({ speaker: z.string(), text: z.string() })).min(1),
});

/** One turn's tokens: the speaker label (`A:`), then the scored body (` text…\n`). */
export interface Turn {
  readonly tokens: readonly number[];
  /** Tokens of the label; the body (what the multi-turn NLL scores) follows. */
  readonly labelLength: number;
  readonly truncated: boolean;
}

export interface Dialogue {
  readonly id: string;
  readonly turns: readonly Turn[];
}

/** Reads a JSONL file of `{conversation_id, turns:[{speaker, text}]}`, every line validated. */
export function readDialogues(source: string | readonly DialogueRecord[]): { source: string; records: DialogueRecord[] } {
  if (typeof source !== 'string') return { source: 'given records', records: source.map((r, i) => parseRecord(r, `record ${i}`)) };
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (e) {
    throw new SnnError('TEXT_INVALID', { message: `cannot read the dialogues: ${(e as Error).message}`, at: source, cause: e });
  }
  const records = text.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    let value: unknown;
    try { value = JSON.parse(line); } catch (e) {
      throw new SnnError('TEXT_INVALID', { message: `line ${i + 1} is not JSON: ${(e as Error).message}`, at: `${source}:${i + 1}`, hint: 'one dialogue per line: {"conversation_id": …, "turns": [{"speaker": …, "text": …}]}' });
    }
    return [parseRecord(value, `${source}:${i + 1}`)];
  });
  if (records.length === 0) throw new SnnError('TEXT_INVALID', { message: 'the dialogue file holds no dialogue', at: source });
  return { source, records };
}

function parseRecord(value: unknown, at: string): DialogueRecord {
  const r = RECORD.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(line)'}: ${i.message}`).join('; ');
    throw new SnnError('TEXT_INVALID', { message: `not a dialogue: ${issues}`, at, hint: 'one dialogue per line: {"conversation_id": …, "turns": [{"speaker": …, "text": …}]}' });
  }
  return r.data;
}

/**
 * Renders a dialogue as transcript turns `A: text\n` (speakers lettered in order of appearance).
 * A turn longer than `maxTurnTokens` keeps its first words and its newline; the dialogue keeps its
 * leading turns while they fit in `budget` tokens.
 * @example
 * formatDialogue(tok, record, { maxTurnTokens: 25, budget: 128 }).turns[0].tokens; // "A: Did you know that the\n"
 */
export function formatDialogue(tokenizer: Tokenizer, record: DialogueRecord, opts: { readonly maxTurnTokens: number; readonly budget: number }): Dialogue {
  const letters = new Map<string, string>();
  const turns: Turn[] = [];
  let used = 0;
  for (const t of record.turns) {
    if (!letters.has(t.speaker)) letters.set(t.speaker, String.fromCharCode(65 + Math.min(letters.size, 25)));
    const turn = formatTurn(tokenizer, letters.get(t.speaker)!, t.text, opts.maxTurnTokens);
    if (used + turn.tokens.length > opts.budget) break;
    turns.push(turn);
    used += turn.tokens.length;
  }
  return { id: record.conversation_id, turns };
}

/**
 * `label: text\n`, the body cut so the whole turn fits `maxTokens`: whole words while they fit (so
 * turns keep natural, varied lengths), tokens only when the first word alone is too long; the
 * newline is kept, so turns stay lines.
 */
export function formatTurn(tokenizer: Tokenizer, label: string, text: string, maxTokens: number): Turn {
  const head = tokenizer.encode(`${label}:`);
  const newline = tokenizer.encode('\n');
  const room = maxTokens - head.length - newline.length;
  if (room < 1) throw new SnnError('OPTION_INVALID', { message: `maxTurnTokens ${maxTokens} leaves no room for text after the speaker label`, at: 'maxTurnTokens' });
  const words = text.trim().split(/\s+/);
  const encodeWords = (n: number) => tokenizer.encode(` ${words.slice(0, n).join(' ')}`);
  let body = encodeWords(words.length);
  const truncated = body.length > room;
  if (truncated) {
    // The most words that fit (encoded length grows with the word count).
    let lo = 0;
    let hi = words.length - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (encodeWords(mid).length <= room) lo = mid;
      else hi = mid - 1;
    }
    body = lo > 0 ? encodeWords(lo) : body.slice(0, room);
  }
  return { tokens: [...head, ...body, ...newline], labelLength: head.length, truncated };
}

/** A one-line description of the shaping, for the report. */
export function describeFormat(maxTurnTokens: number, budget: number): string {
  return `transcript lines "A: text\\n" (speakers lettered in order of appearance); each turn cut to whole words within ${maxTurnTokens} tokens (newline kept); a dialogue keeps its leading turns while it fits in ${budget} tokens; dialogues with fewer than 2 turns left are skipped`;
}
