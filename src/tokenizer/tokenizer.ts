// The tokenizer of a local model folder: a thin, offline wrapper over @huggingface/transformers.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { SnnError } from '../errors/index.js';

/** One turn of a conversation, as chat templates expect it. */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface ChatTemplateOptions {
  /** End with the tokens that open an assistant turn (what `chat` wants). Default false, as in HF. */
  readonly addGenerationPrompt?: boolean;
}

export interface EncodeInputOptions {
  /** Add the tokenizer's default special tokens (default true; the CLI's `--no-special-tokens` turns it off). */
  readonly specialTokens?: boolean;
}

/** Text ↔ token ids for one model, exactly as HF tokenizers do it. */
export interface Tokenizer {
  /** Ids for `text`; no special tokens (BOS/EOS) are added (for pieces of a larger input). */
  encode(text: string): number[];
  /**
   * Ids of a whole model input, with the special tokens the tokenizer adds by default, as
   * transformers' `tokenizer(text)` does: BOS for Llama-family tokenizers with `add_bos_token`,
   * nothing for GPT-2. `{ specialTokens: false }` gives `encode(text)`.
   */
  encodeInput(text: string, opts?: EncodeInputOptions): number[];
  /** Text for `ids`, special tokens included; ids outside the vocabulary decode to nothing (as in HF). */
  decode(ids: readonly number[]): string;
  /** Entries in the tokenizer's vocabulary, added tokens included. */
  readonly vocabSize: number;
  /** Most characters one token can stand for (the longest vocabulary entry): bounds tokens from below by text length. */
  readonly maxTokenChars?: number;
  /** The largest id the tokenizer can produce (must be below the model's vocab_size). */
  readonly maxTokenId?: number;
  readonly eosTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly hasChatTemplate: boolean;
  /** Renders `messages` with the model's chat template and encodes the result. */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): number[];
}

/** The files transformers.js reads; both must be present. */
const REQUIRED_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;
/** Newer transformers versions save the chat template beside tokenizer_config.json. */
const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/**
 * Loads the tokenizer of the model folder `dir` without touching the network.
 *
 * @example
 * const tok = await loadTokenizer('fixtures/distilgpt2-config-tokenizer');
 * tok.encode('Hello world'); // [15496, 995]
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  // An absolute path is never taken for a hub id, so transformers.js reads the files in place.
  const folder = resolve(dir);
  checkFolder(folder);
  let inner: PreTrainedTokenizer;
  try {
    inner = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
  } catch (cause) {
    throw new SnnError('TOKENIZER_INVALID', {
      message: `the tokenizer files could not be parsed (${errorText(cause)})`,
      at: folder,
      hint: 'the tokenizer.json / tokenizer_config.json there are damaged or from an unsupported tokenizer: copy them again from the model repository',
      cause,
    });
  }
  return wrap(inner, folder, readChatTemplate(inner, folder), readSpecialFlags(folder));
}

function checkFolder(folder: string): void {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new SnnError('TOKENIZER_INVALID', { message: 'the tokenizer folder does not exist', at: folder });
  }
  const missing = REQUIRED_FILES.filter((f) => !existsSync(join(folder, f)));
  if (missing.length > 0) {
    throw new SnnError('TOKENIZER_INVALID', {
      message: `missing ${missing.join(' and ')}`,
      at: folder,
      hint: 'copy tokenizer.json and tokenizer_config.json from the model repository into this folder',
    });
  }
}

/** The template to render chats with: chat_template.jinja wins, as in transformers ≥ 4.43. */
function readChatTemplate(inner: PreTrainedTokenizer, folder: string): string | null {
  const file = join(folder, CHAT_TEMPLATE_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  try {
    const template: unknown = inner.get_chat_template();
    return typeof template === 'string' && template.length > 0 ? template : null;
  } catch {
    return null; // no template, or several with no default
  }
}

/** `add_bos_token` / `add_eos_token` of tokenizer_config.json when set (Llama-family tokenizers). */
interface SpecialFlags { readonly addBos?: boolean; readonly addEos?: boolean }

function readSpecialFlags(folder: string): SpecialFlags {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')); } catch { return {}; }
  const cfg = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const flag = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
  const addBos = flag(cfg['add_bos_token']);
  const addEos = flag(cfg['add_eos_token']);
  return { ...(addBos === undefined ? {} : { addBos }), ...(addEos === undefined ? {} : { addEos }) };
}

/**
 * The ids transformers gives for `tokenizer(text)`: the tokenizer.json post-processor decides (a
 * Llama TemplateProcessing adds BOS, GPT-2's ByteLevel adds nothing); where tokenizer_config.json
 * sets add_bos_token / add_eos_token, that flag wins, as transformers' LlamaTokenizer(Fast) rebuilds
 * its post-processor from them.
 */
function encodeWithSpecials(inner: PreTrainedTokenizer, flags: SpecialFlags, text: string): number[] {
  const plain = inner.encode(text, { add_special_tokens: false });
  const withPost = inner.encode(text, { add_special_tokens: true });
  const bos = tokenId(inner.bos_token_id);
  const eos = tokenId(inner.eos_token_id);
  // What the post-processor put around the plain ids (it only adds tokens, never changes them).
  const start = Math.max(0, [...Array(Math.max(0, withPost.length - plain.length + 1)).keys()].find((o) => plain.every((id, i) => withPost[o + i] === id)) ?? 0);
  let prefix = withPost.slice(0, start);
  let suffix = withPost.slice(start + plain.length);
  if (flags.addBos !== undefined && bos !== null) prefix = flags.addBos ? (prefix[0] === bos ? prefix : [bos, ...prefix]) : prefix.filter((id) => id !== bos);
  if (flags.addEos !== undefined && eos !== null) suffix = flags.addEos ? (suffix.at(-1) === eos ? suffix : [...suffix, eos]) : suffix.filter((id) => id !== eos);
  return [...prefix, ...plain, ...suffix];
}

function wrap(inner: PreTrainedTokenizer, folder: string, chatTemplate: string | null, flags: SpecialFlags): Tokenizer {
  return {
    encode: (text) => inner.encode(text, { add_special_tokens: false }),
    encodeInput: (text, opts = {}) => (opts.specialTokens ?? true)
      ? encodeWithSpecials(inner, flags, text)
      : inner.encode(text, { add_special_tokens: false }),
    decode: (ids) => decodeIds(inner, ids),
    vocabSize: inner.get_vocab().size,
    maxTokenChars: [...inner.get_vocab().keys()].reduce((m: number, k: unknown) => Math.max(m, typeof k === 'string' ? k.length : 1), 1),
    maxTokenId: [...inner.get_vocab().values()].reduce((m: number, id: unknown) => Math.max(m, typeof id === 'number' ? id : 0), 0),
    eosTokenId: tokenId(inner.eos_token_id),
    bosTokenId: tokenId(inner.bos_token_id),
    hasChatTemplate: chatTemplate !== null,
    applyChatTemplate(messages, opts = {}) {
      if (chatTemplate === null) {
        throw new SnnError('TOKENIZER_INVALID', {
          message: 'this tokenizer has no chat template',
          at: folder,
          hint: 'encode the prompt as plain text instead, or add a chat_template to tokenizer_config.json',
        });
      }
      checkTemplateRanges(chatTemplate, folder);
      let ids: unknown;
      try {
        ids = inner.apply_chat_template(messages.map((m) => ({ role: m.role, content: m.content })), {
          chat_template: chatTemplate,
          add_generation_prompt: opts.addGenerationPrompt ?? false,
          tokenize: true,
          return_tensor: false,
          return_dict: false,
        });
      } catch (cause) {
        throw new SnnError('TOKENIZER_INVALID', {
          message: `the chat template failed to render (${errorText(cause)})`,
          at: `${folder} › chat_template`,
          hint: 'fix the chat template (chat_template.jinja or tokenizer_config.json), or remove it to chat with a plain transcript',
          cause,
        });
      }
      const list = toIdArray(ids, folder);
      if (list.length === 0) throw new SnnError('TOKENIZER_INVALID', { message: 'the chat template rendered no tokens for this conversation', at: `${folder} › chat_template`, hint: 'the template must render the messages; check it with a few messages' });
      return list;
    },
  };
}

/** Most elements a template's range() may ask for: far beyond any chat, far below an out-of-memory. */
const MAX_TEMPLATE_RANGE = 100_000;

/**
 * jinja's range() builds its list eagerly, and a list past V8's array limit aborts the process
 * (uncatchable), so a template asking for one is refused before rendering. Only literal bounds
 * (and `**`) are seen: a bound computed from variables is not.
 */
function checkTemplateRanges(template: string, folder: string): void {
  for (const call of template.matchAll(/\brange\s*\(([^)]*)\)/g)) {
    const args = call[1] ?? '';
    const big = [...args.matchAll(/\d[\d_]*(?:\.\d*)?(?:e\d+)?/gi)].some((m) => Number(m[0].replaceAll('_', '')) > MAX_TEMPLATE_RANGE);
    if (big || args.includes('**')) {
      throw new SnnError('TOKENIZER_INVALID', {
        message: `the chat template calls ${call[0]}, over the limit of ${MAX_TEMPLATE_RANGE} elements`,
        at: `${folder} › chat_template`,
        hint: 'fix the chat template: no chat needs a loop that long',
      });
    }
  }
}

function decodeIds(inner: PreTrainedTokenizer, ids: readonly number[]): string {
  if (ids.length === 0) return ''; // transformers.js refuses an empty list; HF gives ''
  const bad = ids.findIndex((id) => !Number.isInteger(id));
  if (bad >= 0) {
    throw new SnnError('INPUT_INVALID', {
      message: `token id ${String(ids[bad])} at index ${bad} is not an integer`,
      at: 'Tokenizer.decode',
    });
  }
  return inner.decode([...ids], { skip_special_tokens: false });
}

function toIdArray(value: unknown, folder: string): number[] {
  if (Array.isArray(value) && value.every((v): v is number => typeof v === 'number')) return value;
  throw new SnnError('TOKENIZER_INVALID', {
    message: 'the chat template did not encode to a list of token ids',
    at: folder,
    hint: 'this is a bug in the tokenizer wrapper: report it with the model',
  });
}

function tokenId(id: number | null | undefined): number | null {
  return typeof id === 'number' && Number.isInteger(id) ? id : null;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
