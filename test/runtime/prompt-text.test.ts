// promptText: a prompt the context cannot hold is refused or cut before tokenizing, never tokenized whole.
import { describe, expect, it } from 'vitest';
import { promptText } from '../../src/runtime/prompt-text.js';
import { snnErrorOf } from '../helpers.js';

const tok = { maxTokenChars: 4 };

describe('promptText', () => {
  it('leaves a prompt that may fit untouched', () => {
    const text = 'x'.repeat(40); // 10 tokens × 4 characters
    expect(promptText(tok, text, { maxTokens: 10, overflow: 'error' })).toBe(text);
  });

  it('refuses with CONTEXT_OVERFLOW a prompt longer than maxTokens × maxTokenChars under overflow error', () => {
    const e = snnErrorOf(() => promptText(tok, 'x'.repeat(41), { maxTokens: 10, overflow: 'error' }));
    expect(e.code).toBe('CONTEXT_OVERFLOW');
    expect(e.message).toMatch(/41 characters.*10 tokens of at most 4 characters/);
  });

  it('keeps the last 2 × maxTokens × maxTokenChars characters under slide, never starting inside a surrogate pair', () => {
    const text = `${'a'.repeat(100)}${'b'.repeat(80)}`;
    expect(promptText(tok, text, { maxTokens: 10, overflow: 'slide' })).toBe('b'.repeat(80));
    const emoji = '🎭'.repeat(50); // 100 UTF-16 units; the cut at 20 units from the end falls on a pair boundary or not
    const cut = promptText({ maxTokenChars: 1 }, `x${emoji}`, { maxTokens: 10, overflow: 'slide' });
    expect(cut.length).toBeLessThanOrEqual(20);
    expect(cut).toMatch(/^(🎭)+$/u);
  });

  it('leaves the text alone when the tokenizer does not say how long a token can be', () => {
    expect(promptText({}, 'x'.repeat(10_000), { maxTokens: 1, overflow: 'error' })).toHaveLength(10_000);
  });
});
