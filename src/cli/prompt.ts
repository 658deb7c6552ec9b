// The prompt of `generate`: --prompt TEXT or --prompt-file F (strict UTF-8, for prompts no command line can hold).
import { SnnError } from '../errors/index.js';
import { readTextFile } from '../util/read-text-file.js';

/** Prompt files over 64 MiB are refused before reading: no model here has a context that long. */
const MAX_PROMPT_BYTES = 64 * 1024 * 1024;

export function promptOf(o: Record<string, unknown>): string {
  const text = o['prompt'] as string | undefined;
  const file = o['promptFile'] as string | undefined;
  if (text !== undefined && file !== undefined) throw new SnnError('OPTION_INVALID', { message: 'give --prompt or --prompt-file, not both', at: '--prompt-file' });
  if (file !== undefined) return readTextFile(file, { what: 'prompt file', maxBytes: MAX_PROMPT_BYTES });
  if (text === undefined) throw new SnnError('OPTION_INVALID', { message: 'no prompt given', at: '--prompt', hint: 'pass --prompt TEXT or --prompt-file FILE' });
  return text;
}
