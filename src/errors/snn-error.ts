// The one error class of snnconvert: a code from the table, what happened, where, and what to do.
import { ERROR_CODES, type ErrorCode } from './codes.js';

export interface SnnErrorDetails {
  /** What went wrong, specifically (the title from the code table is prepended). */
  readonly message: string;
  /** Where: file, tensor, node, op, field. */
  readonly at?: string;
  /** What to do; defaults to the code table's hint. */
  readonly hint?: string;
  readonly cause?: unknown;
}

/** A user-facing failure. `code` keys ERROR_CODES; `render()` gives the CLI's one-line form. */
export class SnnError extends Error {
  readonly code: ErrorCode;
  readonly at: string | undefined;
  readonly hint: string;

  constructor(code: ErrorCode, details: SnnErrorDetails) {
    super(`${ERROR_CODES[code].title}: ${details.message}`, { cause: details.cause });
    this.name = 'SnnError';
    this.code = code;
    this.at = details.at;
    this.hint = details.hint ?? ERROR_CODES[code].hint;
  }

  /** `error[CODE]: message / at: where / hint: what to do` on one line. */
  render(): string {
    const at = this.at ? ` / at: ${oneLine(this.at)}` : '';
    return `error[${this.code}]: ${oneLine(this.message)}${at} / hint: ${oneLine(this.hint)}`;
  }
}

/** Line breaks inside a part (a JSON parser's excerpt, a file name) would break the one-line form. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

/** Throws one SnnError that lists every collected problem (importers collect before throwing). */
export function throwCollected(code: ErrorCode, problems: readonly string[], at: string, hint?: string): void {
  if (problems.length === 0) return;
  const message = problems.length === 1 ? problems[0]! : `${problems.length} problems: ${problems.join('; ')}`;
  throw new SnnError(code, { message, at, ...(hint ? { hint } : {}) });
}

export function isSnnError(e: unknown): e is SnnError {
  return e instanceof SnnError;
}
