// A prompt's text cut to what the context can use, before it is tokenized: tokenizing megabytes takes minutes.
import { SnnError } from '../errors/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { OverflowPolicy } from './tsp.js';

/**
 * Every token stands for at most `maxTokenChars` characters, so a text longer than
 * `maxTokens × maxTokenChars` characters surely overflows: with `overflow: 'error'` that is
 * CONTEXT_OVERFLOW at once; with `'slide'` only the last 2× that many characters are kept (the
 * tokens a slide keeps all come from them, unless one word is longer than the whole context).
 * @example
 * const ids = tok.encode(promptText(tok, text, { maxTokens: 128, overflow: 'slide' }));
 */
export function promptText(tokenizer: Pick<Tokenizer, 'maxTokenChars'>, text: string, opts: { readonly maxTokens: number; readonly overflow: OverflowPolicy }): string {
  const perToken = tokenizer.maxTokenChars ?? Number.POSITIVE_INFINITY;
  const limit = opts.maxTokens * perToken;
  if (text.length <= limit) return text;
  if (opts.overflow === 'error') {
    throw new SnnError('CONTEXT_OVERFLOW', {
      message: `the prompt is ${text.length} characters: more than the context's ${opts.maxTokens} tokens of at most ${perToken} characters each can hold`,
      at: 'prompt',
      hint: "shorten the prompt, or use --overflow slide to keep only its end",
    });
  }
  const from = text.length - 2 * limit;
  const lowSurrogate = /[\uDC00-\uDFFF]/.test(text.charAt(from));
  return text.slice(lowSurrogate ? from + 1 : from); // never start inside a surrogate pair
}
