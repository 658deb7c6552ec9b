// Special tokens of a model input (#11 item 5): BOS where the tokenizer adds it by default, as transformers does; none for GPT-2.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { createCalibrationData } from '../../src/calibrate/data.js';
import { loadTokenizer } from '../../src/tokenizer/tokenizer.js';
import { tempDir } from '../helpers.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures', import.meta.url));
const LLAMA_BOS = join(FIXTURES, 'llama-bos-tokenizer');
const GPT2 = join(FIXTURES, 'shakespeare-gpt2');
const DISTILGPT2 = join(FIXTURES, 'distilgpt2-config-tokenizer');
const TEXTS = ['ROMEO:\nBut soft, what light', ' leading space', 'héllo — ünïcode ✓', ''];

/** transformers.js's own `tokenizer(text)` (default add_special_tokens), the reference. */
async function reference(dir: string, text: string): Promise<number[]> {
  const tok = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  return tok.encode(text);
}

/** A copy of `dir` whose tokenizer_config.json is changed by `patch`. */
function variant(dir: string, patch: (cfg: Record<string, unknown>) => void, tokenizerJson?: (t: Record<string, unknown>) => void): string {
  const out = tempDir();
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(dir, f), join(out, f));
  const cfg = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  patch(cfg);
  writeFileSync(join(out, 'tokenizer_config.json'), JSON.stringify(cfg));
  if (tokenizerJson) {
    const t = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    tokenizerJson(t);
    writeFileSync(join(out, 'tokenizer.json'), JSON.stringify(t));
  }
  return out;
}

describe('encodeInput: the special tokens transformers adds by default', () => {
  it.each(TEXTS)('a Llama-family tokenizer with add_bos_token puts BOS first, as transformers.js does (%j)', async (text) => {
    const tok = await loadTokenizer(LLAMA_BOS);
    const ids = tok.encodeInput(text);
    expect(ids).toEqual(await reference(LLAMA_BOS, text));
    expect(ids[0]).toBe(256);
    expect(ids.slice(1)).toEqual(tok.encode(text));
  });

  it.each([GPT2, DISTILGPT2])('a GPT-2 tokenizer adds nothing, as transformers.js does (%s)', async (dir) => {
    const tok = await loadTokenizer(dir);
    for (const text of TEXTS) {
      expect(tok.encodeInput(text)).toEqual(tok.encode(text));
      expect(tok.encodeInput(text)).toEqual(await reference(dir, text));
    }
  });

  it('specialTokens: false (the CLI\'s --no-special-tokens) gives the plain ids', async () => {
    const tok = await loadTokenizer(LLAMA_BOS);
    expect(tok.encodeInput('To be', { specialTokens: false })).toEqual(tok.encode('To be'));
    expect(tok.encodeInput('To be', { specialTokens: false })[0]).not.toBe(256);
  });

  it('add_bos_token: false wins over the template, as transformers\' LlamaTokenizerFast rebuilds its post-processor', async () => {
    const tok = await loadTokenizer(variant(LLAMA_BOS, (c) => { c['add_bos_token'] = false; }));
    expect(tok.encodeInput('To be')).toEqual(tok.encode('To be'));
  });

  it('add_bos_token: true adds BOS even where tokenizer.json has no template (GPT2Tokenizer with add_bos_token)', async () => {
    const tok = await loadTokenizer(variant(GPT2, (c) => { c['add_bos_token'] = true; }));
    expect(tok.encodeInput('To be')).toEqual([256, ...tok.encode('To be')]);
  });

  it('add_eos_token: true appends EOS once', async () => {
    const tok = await loadTokenizer(variant(LLAMA_BOS, (c) => { c['add_eos_token'] = true; }));
    expect(tok.encodeInput('To be')).toEqual([256, ...tok.encode('To be'), 256]);
  });

  it('calibration windows come from the text with BOS first, and without it under specialTokens: false', async () => {
    const tok = await loadTokenizer(LLAMA_BOS);
    const dir = tempDir();
    const text = join(dir, 'calib.txt');
    // 9 characters: the calibration split is the first 90 % of the tokens (10 with BOS → 9, 9 without → 8).
    writeFileSync(text, 'abcdefghi');
    const withBos = createCalibrationData(tok, { numSamples: 1, maxLength: 9, text });
    expect(withBos.samples[0]).toEqual([256, ...tok.encode('abcdefgh')]);
    const plain = createCalibrationData(tok, { numSamples: 1, maxLength: 8, text, specialTokens: false });
    expect(plain.samples[0]).toEqual(tok.encode('abcdefgh'));
  });
});
