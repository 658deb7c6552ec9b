// Replies carry every character their tokens decode to: leading spaces and newlines, multi-byte characters split across tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../src/runtime/model.js';
import { Job } from '../../src/serve/job.js';
import type { ServerHandle } from '../../src/serve/server.js';
import { buildBundle, client, openBundle, post, startServer } from './serve-helpers.js';

let bundle: Bundle;
let server: ServerHandle;

beforeAll(async () => {
  bundle = await openBundle(await buildBundle());
  server = await startServer(bundle);
});
afterAll(async () => {
  await server.close();
  await bundle.release();
});

/** Logits that make greedy decoding pick `id`. */
function forcing(id: number, vocab: number): Float32Array {
  const logits = new Float32Array(vocab);
  logits[id] = 10;
  return logits;
}

describe('the text of a reply is exact', () => {
  it('the shipped tokenizer is byte-level: token id = byte value (so every multi-byte character spans tokens)', () => {
    const tok = bundle.tokenizer;
    for (const ch of ['a', ' ', '\n', 'Z']) expect(tok.encode(ch)).toEqual([ch.charCodeAt(0)]);
    expect(tok.encode('é€😀')).toEqual([...Buffer.from('é€😀', 'utf8')]);
  });

  it('a job releases whitespace at once and holds an incomplete character back until it is complete', () => {
    const text = ' \n é€😀a';
    const ids = [...Buffer.from(text, 'utf8')];
    const job = new Job({ sessionId: null, prompt: [1], maxTokens: ids.length, temperature: 0, topP: 1, seed: 0, stop: [], eos: [], topLogprobs: null, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() }, 'c', bundle.tokenizer);
    const deltas: string[] = [];
    const drained = (async () => { for await (const p of job.pieces) deltas.push(p.text); })();
    for (const id of ids) job.accept(forcing(id, 256));
    return drained.then(() => {
      expect(deltas.join('')).toBe(text);
      expect(deltas.slice(0, 3)).toEqual([' ', '\n', ' ']);
      // 'é' is 2 tokens, '€' 3, '😀' 4: the character comes whole with its last byte, nothing before it.
      expect(deltas.slice(3)).toEqual(['', 'é', '', '', '€', '', '', '', '😀', 'a']);
      expect(deltas.some((d) => d.includes('\uFFFD'))).toBe(false);
    });
  });

  it('a chat reply that begins with spaces and newlines keeps them, streamed and not, and matches its tokens', async () => {
    const [space, newline] = [' ', '\n'].map((ch) => bundle.tokenizer.encode(ch)[0]!);
    const params = { model: server.modelId, messages: [{ role: 'user' as const, content: 'Good morrow' }], max_tokens: 6, temperature: 0, logit_bias: { [space!]: 100, [newline!]: 100 }, logprobs: true };
    const c = client(server);
    const whole = await c.chat.completions.create(params);
    const content = whole.choices[0]!.message.content!;
    expect(content).toMatch(/^[ \n]{6}$/);
    expect(content).toBe(whole.choices[0]!.logprobs!.content!.map((t) => t.token).join(''));
    let streamed = '';
    for await (const chunk of await c.chat.completions.create({ ...params, stream: true })) streamed += chunk.choices[0]?.delta.content ?? '';
    expect(streamed).toBe(content);
  });

  it('a reply of two-byte characters split across tokens is exact, streamed and not', async () => {
    const [lead, trail] = [...Buffer.from('é', 'utf8')];
    const body = { prompt: 'KING:', max_tokens: 12, temperature: 0, logit_bias: { [lead!]: 100, [trail!]: 100 } };
    const whole = await post(server, '/v1/completions', body);
    const text: string = whole.json.choices[0].text;
    // Only 0xC3 and 0xA9 can come: each "é" takes two tokens, each byte that forms no character one U+FFFD (UTF-8 decoding).
    expect(text).toMatch(/^[é\uFFFD]+$/);
    const chars = [...text];
    expect(chars.filter((ch) => ch === 'é').length * 2 + chars.filter((ch) => ch !== 'é').length).toBe(12);
    expect(text).toContain('é');
    const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
    const deltas = (await res.text()).split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)).choices[0].text as string);
    expect(deltas.join('')).toBe(text);
  });
});
