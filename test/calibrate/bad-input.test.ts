// Calibration options and texts that cannot work fail with a typed error before any work, saying what is needed.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { isSnnError } from '../../src/errors/index.js';
import { GPT2_DIR, tempDir } from '../helpers.js';

async function failure(f: () => Promise<unknown>): Promise<{ code: string | false; message: string }> {
  try { await f(); return { code: false, message: '' }; } catch (e) { return { code: isSnnError(e) && e.code, message: (e as Error).message }; }
}

describe('convert refuses calibration it cannot do, before writing anything', () => {
  const dir = tempDir();
  const out = join(dir, 'x.snn');

  it('a text shorter than the windows: names the tokens and characters needed', async () => {
    const text = join(dir, 'short.txt');
    writeFileSync(text, 'To be, or not to be.\n'.repeat(4));
    const f = await failure(() => convert(GPT2_DIR, { out, calibration: { text } }));
    expect(f.code).toBe('CALIBRATION_TEXT');
    // 32 windows of the 128-token context: 128 + 31 tokens of the first 90 % (byte tokenizer: 1 char per token).
    expect(f.message).toContain('need at least 159');
    expect(f.message).toMatch(/about 17\d characters/);
    expect(existsSync(out)).toBe(false);
  });

  it('a text that tokenizes to nothing useful', async () => {
    const text = join(dir, 'blank.txt');
    writeFileSync(text, '\n');
    const f = await failure(() => convert(GPT2_DIR, { out, calibration: { text } }));
    expect(['CALIBRATION_TEXT', 'TEXT_INVALID']).toContain(f.code);
    expect(existsSync(out)).toBe(false);
  });

  it('--calib-length beyond the context, an unknown source, a source that contradicts --calib-text', async () => {
    expect((await failure(() => convert(GPT2_DIR, { out, calibration: { length: 129 } }))).message).toContain('context of 128');
    expect((await failure(() => convert(GPT2_DIR, { out, calibration: { source: 'web' } }))).code).toBe('OPTION_INVALID');
    expect((await failure(() => convert(GPT2_DIR, { out, calibration: { source: 'model', text: join(GPT2_DIR, 'heldout.txt') } }))).code).toBe('OPTION_INVALID');
    expect((await failure(() => convert(GPT2_DIR, { out, headroom: 9 }))).code).toBe('OPTION_INVALID');
    expect(existsSync(out)).toBe(false);
  });
});
