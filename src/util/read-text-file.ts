// Reading a user's text file (prompt, calibration or evaluation text): strict UTF-8, no binary, bounded size.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SnnError } from '../errors/index.js';

/** Larger texts are refused before they are read: 256 MiB is ~50 000× TinyShakespeare. */
export const MAX_TEXT_BYTES = 256 * 1024 * 1024;

export interface ReadTextOptions {
  /** What the text is for, in messages ("calibration text", "prompt file"). */
  readonly what: string;
  /** Refuse larger files before reading them (default MAX_TEXT_BYTES). */
  readonly maxBytes?: number;
}

/**
 * Reads a UTF-8 text file, refusing with TEXT_INVALID what is missing, a folder, empty, over
 * `maxBytes`, not UTF-8, or binary (NUL bytes): the message names the byte where decoding failed.
 * @example
 * const text = readTextFile('calib.txt', { what: 'calibration text' });
 */
export function readTextFile(path: string, opts: ReadTextOptions): string {
  const bytes = readBounded(path, opts);
  if (bytes.length === 0) throw new SnnError('TEXT_INVALID', { message: `the ${opts.what} is empty`, at: path });
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new SnnError('TEXT_INVALID', { message: `the ${opts.what} holds a NUL byte at offset ${nul}: it is binary, not text`, at: path });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new SnnError('TEXT_INVALID', { message: `the ${opts.what} is not valid UTF-8 (first bad byte at offset ${firstInvalidUtf8(bytes)})`, at: path, hint: 'convert the file to UTF-8 (e.g. iconv -t UTF-8)', cause: e });
  }
}

function readBounded(path: string, opts: ReadTextOptions): Buffer {
  const max = opts.maxBytes ?? MAX_TEXT_BYTES;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SnnError('TEXT_INVALID', { message: `the ${opts.what} cannot be opened (${code === 'ENOENT' ? 'no such file' : code ?? String(e)})`, at: path, cause: e });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SnnError('TEXT_INVALID', { message: `the ${opts.what} is not a regular file`, at: path });
    if (stat.size > max) throw new SnnError('TEXT_INVALID', { message: `the ${opts.what} is ${stat.size} bytes, over the ${max}-byte limit`, at: path, hint: 'give a shorter text' });
    const bytes = Buffer.alloc(stat.size);
    for (let done = 0; done < bytes.length;) {
      const n = readSync(fd, bytes, done, bytes.length - done, done);
      if (n === 0) return bytes.subarray(0, done);
      done += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** Offset of the first byte that breaks UTF-8 (lead byte, continuation or overlong form), for the message. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let lo = 0;
  let hi = bytes.length;
  // The longest valid prefix, by bisection on whole-prefix validity (stream mode tolerates a cut sequence).
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try { new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true }); lo = mid; } catch { hi = mid - 1; }
  }
  // A prefix valid in stream mode may end in an incomplete sequence: the bad one starts at its lead byte.
  let lead = lo;
  while (lead > 0 && lo - lead < 3 && ((bytes[lead - 1] ?? 0) & 0xc0) === 0x80) lead--;
  const first = bytes[lead - 1] ?? 0;
  const needs = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
  return lead > 0 && needs > 1 && lo - (lead - 1) < needs ? lead - 1 : lo;
}
