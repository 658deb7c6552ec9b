// readTextFile: strict UTF-8 text or a TEXT_INVALID that says what was wrong with the file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTextFile } from '../../src/util/read-text-file.js';
import { snnErrorOf, tempDir } from '../helpers.js';

const dir = tempDir('snn-text-');
const file = (name: string, bytes: Uint8Array | string): string => { const p = join(dir, name); writeFileSync(p, bytes); return p; };

describe('readTextFile', () => {
  it('returns the text of a UTF-8 file, multi-byte characters included', () => {
    expect(readTextFile(file('ok.txt', 'Ünïcödé 日本 🎭\n'), { what: 'text' })).toBe('Ünïcödé 日本 🎭\n');
  });

  it.each([
    ['empty', Buffer.alloc(0), /is empty/],
    ['binary', Buffer.from([0x41, 0x00, 0x42]), /NUL byte at offset 1/],
    ['invalid UTF-8', Buffer.from([0x41, 0x42, 0x43, 0xc3, 0x28]), /not valid UTF-8 \(first bad byte at offset 3\)/],
    ['a lone continuation byte', Buffer.from([0x80]), /not valid UTF-8 \(first bad byte at offset 0\)/],
    ['a bad byte after a complete é', Buffer.from([0xc3, 0xa9, 0xff]), /not valid UTF-8 \(first bad byte at offset 2\)/],
  ])('refuses an %s file with TEXT_INVALID naming it', (_n, bytes, message) => {
    const path = file(`${_n}.txt`, bytes);
    const e = snnErrorOf(() => readTextFile(path, { what: 'calibration text' }));
    expect(e.code).toBe('TEXT_INVALID');
    expect(e.message).toMatch(message);
    expect(e.at).toBe(path);
  });

  it('refuses a missing file, a folder and a file over the size limit before reading it', () => {
    expect(snnErrorOf(() => readTextFile(join(dir, 'nope.txt'), { what: 'text' })).message).toMatch(/no such file/);
    mkdirSync(join(dir, 'folder'));
    expect(snnErrorOf(() => readTextFile(join(dir, 'folder'), { what: 'text' })).code).toBe('TEXT_INVALID');
    expect(snnErrorOf(() => readTextFile(file('big.txt', 'x'.repeat(101)), { what: 'text', maxBytes: 100 })).message).toMatch(/101 bytes, over the 100-byte limit/);
  });
});
