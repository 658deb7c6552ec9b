// The tokenizer wrapper against published GPT-2 vectors, SmolLM2's ChatML template, and broken folders.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnnError } from '../../src/errors/index.js';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizer/tokenizer.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures', import.meta.url));
const DISTILGPT2 = join(FIXTURES, 'distilgpt2-config-tokenizer');
const SMOLLM2 = join(FIXTURES, 'smollm2-135m-instruct-config-tokenizer');
const VECTORS = join(FIXTURES, 'tokenizer-vectors');

interface Vector { readonly name: string; readonly text: string; readonly ids: readonly number[] }

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(join(VECTORS, file), 'utf8'));
}

/** transformers.js (26 cases) and llama.cpp (46 cases): `{ cases: [{ text, ids, name? }] }`. */
function casesOf(file: string, prefix: string): Vector[] {
  const { cases } = readJson(file) as { cases: { name?: string; text: string; ids: number[] }[] };
  return cases.map((c, i) => ({ name: `${prefix} ${c.name ?? `#${i}`} ${JSON.stringify(c.text).slice(0, 40)}`, text: c.text, ids: c.ids }));
}

/** swift-coreml-transformers: one paragraph `{ text, token_ids }`. */
function swiftVector(): Vector {
  const v = readJson('gpt2_encoded_tokens_swift.json') as { text: string; token_ids: number[] };
  return { name: 'swift-coreml French paragraph', text: v.text, ids: v.token_ids };
}

const GPT2_VECTORS: readonly Vector[] = [
  ...casesOf('gpt2_vectors_transformersjs.json', 'transformers.js'),
  ...casesOf('gpt2_vectors_llamacpp.json', 'llama.cpp'),
  swiftVector(),
];

async function rejection(p: Promise<unknown>): Promise<SnnError> {
  const e: unknown = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(SnnError);
  return e as SnnError;
}

describe('the distilgpt2 tokenizer', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(DISTILGPT2);
  });

  it('holds all 73 published GPT-2 vectors (26 transformers.js, 46 llama.cpp, 1 swift-coreml)', () => {
    expect(GPT2_VECTORS).toHaveLength(73);
  });

  it.each(GPT2_VECTORS)('encodes $name exactly as published', ({ text, ids }) => {
    expect(tok.encode(text)).toEqual(ids);
  });

  it.each(GPT2_VECTORS)('decodes $name back to its text', ({ text, ids }) => {
    // distilgpt2 sets clean_up_tokenization_spaces: false, so byte-level BPE round-trips exactly.
    expect(tok.decode(ids)).toBe(text);
  });

  it('reports its vocabulary and special tokens, and has no chat template', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosTokenId).toBe(50256);
    expect(tok.bosTokenId).toBe(50256);
    expect(tok.hasChatTemplate).toBe(false);
  });

  it('refuses applyChatTemplate with a clear error when there is no template', () => {
    let err: unknown;
    try {
      tok.applyChatTemplate([{ role: 'user', content: 'hi' }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SnnError);
    expect((err as SnnError).message).toContain('no chat template');
    expect((err as SnnError).at).toBe(DISTILGPT2);
  });

  it('decodes an empty list to an empty string and rejects non-integer ids', () => {
    expect(tok.decode([])).toBe('');
    expect(() => tok.decode([1.5])).toThrow(SnnError);
  });
});

describe('the SmolLM2-135M-Instruct tokenizer', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(SMOLLM2);
  });

  it('has a chat template and the ChatML special tokens', () => {
    expect(tok.hasChatTemplate).toBe(true);
    expect(tok.vocabSize).toBe(49152);
    expect(tok.bosTokenId).toBe(1); // <|im_start|>
    expect(tok.eosTokenId).toBe(2); // <|im_end|>
  });

  it('renders a conversation as ChatML, ending with an open assistant turn when asked', () => {
    const ids = tok.applyChatTemplate([{ role: 'user', content: 'What is 2+2?' }], { addGenerationPrompt: true });
    expect(tok.decode(ids)).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' +
        '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(ids[0]).toBe(1);
  });

  it('keeps a given system prompt and closes every turn without a generation prompt', () => {
    const ids = tok.applyChatTemplate([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
    ]);
    expect(tok.decode(ids)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n',
    );
  });

  it('encodes without adding special tokens', () => {
    const ids = tok.encode('Hello world');
    expect(ids).not.toContain(1);
    expect(tok.decode(ids)).toBe('Hello world');
  });
});

describe('loadTokenizer on broken folders', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'snn-tok-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reports a missing folder as TOKENIZER_INVALID naming it', async () => {
    const e = await rejection(loadTokenizer(join(root, 'absent')));
    expect(e.code).toBe('TOKENIZER_INVALID');
    expect(e.at).toBe(join(root, 'absent'));
  });

  it('reports a folder without tokenizer files as TOKENIZER_INVALID, listing what is missing', async () => {
    const dir = join(root, 'config-only');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), '{}');
    const e = await rejection(loadTokenizer(dir));
    expect(e.code).toBe('TOKENIZER_INVALID');
    expect(e.message).toContain('tokenizer.json and tokenizer_config.json');
    expect(e.at).toBe(dir);
  });

  it('reports an unparsable tokenizer.json as TOKENIZER_INVALID', async () => {
    const dir = join(root, 'damaged');
    mkdirSync(dir);
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    copyFileSync(join(DISTILGPT2, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    const e = await rejection(loadTokenizer(dir));
    expect(e.code).toBe('TOKENIZER_INVALID');
    expect(e.at).toBe(dir);
  });

  it('takes the chat template from chat_template.jinja when the folder has one', async () => {
    const dir = join(root, 'with-jinja');
    mkdirSync(dir);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(DISTILGPT2, f), join(dir, f));
    writeFileSync(join(dir, 'chat_template.jinja'), '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}');
    const tok = await loadTokenizer(dir);
    expect(tok.hasChatTemplate).toBe(true);
    expect(tok.decode(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }]))).toBe('user: Hi\n');
  });
});
