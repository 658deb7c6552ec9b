// The official `openai` npm client against the server: plain, streaming, completions, multi-turn sessions, models.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerHandle } from '../../src/serve/server.js';
import { buildBundle, client, startServer } from './serve-helpers.js';

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer(await buildBundle());
});
afterAll(async () => { await server.close(); });

describe('the openai client talks to snnconvert serve', () => {
  it('lists the served model', async () => {
    const models = await client(server).models.list();
    expect(models.data.map((m) => m.id)).toEqual([server.modelId]);
    expect(server.host).toBe('127.0.0.1');
  });

  it('answers a plain chat completion with usage and a finish reason', async () => {
    const r = await client(server).chat.completions.create({ model: server.modelId, messages: [{ role: 'user', content: 'Good morrow' }], max_tokens: 12, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    const choice = r.choices[0]!;
    expect(choice.message.role).toBe('assistant');
    expect(typeof choice.message.content).toBe('string');
    expect(['stop', 'length']).toContain(choice.finish_reason);
    // The plain transcript "User: Good morrow\nAssistant:" is 28 byte tokens.
    expect(r.usage!.prompt_tokens).toBe(Buffer.byteLength('User: Good morrow\nAssistant:'));
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(12);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  it('streams a chat completion as server-sent events whose deltas add up to the non-streamed answer', async () => {
    const c = client(server);
    const params = { model: server.modelId, messages: [{ role: 'user' as const, content: 'What news?' }], max_tokens: 16, temperature: 0 };
    const whole = await c.chat.completions.create(params);
    const stream = await c.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: { completion_tokens: number } | null = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      expect(chunk.object).toBe('chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice) { text += choice.delta.content ?? ''; finish = choice.finish_reason ?? finish; }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    expect(usage!.completion_tokens).toBe(whole.usage!.completion_tokens);
  });

  it('answers /v1/completions, plain and streamed, honouring max_tokens and stop', async () => {
    const c = client(server);
    const plain = await c.completions.create({ model: server.modelId, prompt: 'ROMEO:\n', max_tokens: 20, temperature: 0 });
    expect(plain.object).toBe('text_completion');
    expect(plain.usage!.completion_tokens).toBe(20);
    expect(plain.choices[0]!.finish_reason).toBe('length');
    const text = plain.choices[0]!.text;
    // Byte-level model: 20 tokens of ASCII text are 20 characters.
    expect(text.length).toBeGreaterThan(0);
    const stopAt = text.slice(3, 5);
    const stopped = await c.completions.create({ model: server.modelId, prompt: 'ROMEO:\n', max_tokens: 20, temperature: 0, stop: [stopAt] });
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
    expect(stopped.choices[0]!.text).toBe(text.slice(0, text.indexOf(stopAt)));
    let streamed = '';
    for await (const chunk of await c.completions.create({ model: server.modelId, prompt: 'ROMEO:\n', max_tokens: 20, temperature: 0, stream: true })) streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(text);
  });

  it('samples reproducibly with a seed, and differently with another', async () => {
    const c = client(server);
    const ask = (seed: number) => c.completions.create({ model: server.modelId, prompt: 'KING:', max_tokens: 24, temperature: 1, top_p: 0.95, seed }).then((r) => r.choices[0]!.text);
    const [a, b, other] = [await ask(7), await ask(7), await ask(8)];
    expect(a).toBe(b);
    expect(other).not.toBe(a);
  });

  it('continues a session over three turns (X-Session-Id), reusing the cached prefix each time', async () => {
    const c = client(server, { 'X-Session-Id': 'alice' });
    const messages: { role: 'user' | 'assistant'; content: string }[] = [];
    const cached: number[] = [];
    for (const line of ['Good morrow, sir.', 'Whither goest thou?', 'Farewell.']) {
      messages.push({ role: 'user', content: line });
      const r = await c.chat.completions.create({ model: server.modelId, messages, max_tokens: 10, temperature: 0 });
      messages.push({ role: 'assistant', content: r.choices[0]!.message.content ?? '' });
      cached.push(r.usage!.prompt_tokens_details?.cached_tokens ?? -1);
    }
    expect(cached[0]).toBe(0);
    // Later turns reuse at least the previous transcript (the tokens they extend).
    expect(cached[1]).toBeGreaterThanOrEqual(Buffer.byteLength('User: Good morrow, sir.\nAssistant:'));
    expect(cached[2]!).toBeGreaterThan(cached[1]!);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^snn_cache_hits_total [1-9]/m);
    expect(metrics).toMatch(/^snn_sessions_held [1-9]/m);
    expect(metrics).toMatch(/^snn_spikes_per_token \d/m);
  });

  it('never takes the user field as a session id (apps fill it with end-user ids)', async () => {
    const c = client(server);
    const first = await c.completions.create({ model: server.modelId, prompt: 'HAMLET: To be', max_tokens: 4, temperature: 0, user: 'bob' });
    const again = await c.completions.create({ model: server.modelId, prompt: `HAMLET: To be${first.choices[0]!.text} or`, max_tokens: 4, temperature: 0, user: 'bob' });
    expect(again.usage!.prompt_tokens_details?.cached_tokens).toBe(0);
  });

  it('serves two concurrent requests on one session one after the other, both complete', async () => {
    const c = client(server, { 'X-Session-Id': 'twice' });
    const ask = () => c.completions.create({ model: server.modelId, prompt: 'GLOUCESTER:', max_tokens: 6, temperature: 0 });
    const [a, b] = await Promise.all([ask(), ask()]);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    expect(a.usage!.completion_tokens).toBe(6);
    // Whichever ran second found the first one's prompt in the session's cache.
    expect(Math.max(a.usage!.prompt_tokens_details!.cached_tokens!, b.usage!.prompt_tokens_details!.cached_tokens!)).toBe(Buffer.byteLength('GLOUCESTER:') - 1);
  });
});
