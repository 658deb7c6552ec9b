// Calibration data: token windows sampled from real text (never random ids), reproducibly (docs/design.md §3).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SnnError } from '../errors/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { mulberry32 } from '../util/random.js';
import { readTextFile } from '../util/read-text-file.js';

/** The shipped corpus: the first 90% of TinyShakespeare (public domain), disjoint from the held-out text. */
export const DEFAULT_CALIBRATION_TEXT = fileURLToPath(new URL('../../fixtures/calibration/tinyshakespeare-train.txt', import.meta.url));

/** The text the spike report and bench measure on by default: the embedded model's held-out text, never calibrated on. */
export const DEFAULT_REPORT_TEXT = fileURLToPath(new URL('../../fixtures/shakespeare-gpt2/heldout.txt', import.meta.url));

export interface CalibrationDataOptions {
  readonly numSamples: number;
  readonly maxLength: number;
  /** A UTF-8 text file; default DEFAULT_CALIBRATION_TEXT. */
  readonly text?: string;
  readonly seed?: number;
  /**
   * Which part of the text: `calibration` (default) samples the first 90 % of its tokens; `dev` the
   * last 10 %, a dev split cut from the training side on which defaults are chosen (docs/design.md §2's tuning rule).
   */
  readonly split?: 'calibration' | 'dev';
  /** Add the tokenizer's default special tokens (BOS) to the text, as its model saw inputs (default true). */
  readonly specialTokens?: boolean;
}

/** Share of a calibration text's tokens that calibration samples from; the rest is the dev split. */
export const CALIBRATION_SHARE = 0.9;

export interface CalibrationData {
  readonly samples: readonly (readonly number[])[];
  readonly text: string;
  readonly numSamples: number;
  readonly maxLength: number;
}

/** Windows of `maxLength` tokens at seeded random offsets of the tokenized text. */
export function createCalibrationData(tokenizer: Pick<Tokenizer, 'encode'> & Partial<Pick<Tokenizer, 'encodeInput'>>, opts: CalibrationDataOptions): CalibrationData {
  const { numSamples, maxLength } = opts;
  for (const [flag, v] of [['--calib-samples', numSamples], ['--calib-length', maxLength]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new SnnError('OPTION_INVALID', { message: `${flag} must be a positive integer, got ${v}`, at: flag });
  }
  const path = opts.text ?? DEFAULT_CALIBRATION_TEXT;
  if (!existsSync(path)) throw new SnnError('TEXT_INVALID', { message: `calibration text ${path} does not exist`, at: path });
  const text = readTextFile(path, { what: 'calibration text' });
  // A bare `{ encode }` (tests, byte tokenizers) adds no special tokens.
  const all = tokenizer.encodeInput ? tokenizer.encodeInput(text, { specialTokens: opts.specialTokens ?? true }) : tokenizer.encode(text);
  const cut = Math.floor(all.length * CALIBRATION_SHARE);
  const ids = opts.split === 'dev' ? all.slice(cut) : all.slice(0, cut);
  const needed = maxLength + numSamples - 1;
  if (ids.length < needed) {
    // How much text that is, at this text's own characters per token (the whole text when it gave none).
    const perToken = all.length > 0 ? text.length / all.length : 1;
    const chars = Math.ceil(Math.ceil(needed / (opts.split === 'dev' ? 1 - CALIBRATION_SHARE : CALIBRATION_SHARE)) * perToken);
    throw new SnnError('CALIBRATION_TEXT', { message: `${ids.length} tokens in the ${opts.split ?? 'calibration'} split (${opts.split === 'dev' ? 'last 10 %' : 'first 90 %'} of the text), but ${numSamples} samples of ${maxLength} tokens need at least ${needed}: about ${chars} characters of text like this one (it has ${text.length})`, at: path });
  }
  const random = mulberry32(opts.seed ?? 0);
  const span = ids.length - maxLength;
  const samples = Array.from({ length: numSamples }, (_, i) => {
    // Stratified offsets: one window per equal slice of the text, jittered inside its slice.
    const start = Math.min(span, Math.floor(((i + random()) / numSamples) * (span + 1)));
    return ids.slice(start, start + maxLength);
  });
  return { samples, text: path, numSamples, maxLength };
}
