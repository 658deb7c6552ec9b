// What real clients send: the official client's multi-turn loop (its own reply pushed back), every API field, penalties, logit_bias, n.
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../src/runtime/model.js';
import type { ServerHandle } from '../../src/serve/server.js';
import { buildBundle, client, openBundle, post, startServer } from './serve-helpers.js';

let bundle: Bundle;
let server: ServerHandle;

beforeAll(async () => {
  bundle = await openBundle(await buildBundle());
  // Ten turns outgrow the 128-token context of the test model: slide keeps the newest tokens.
  server = await startServer(bundle, { overflow: 'slide' });
});
afterAll(async () => {
  await server.close();
  await bundle.release();
});

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam;
const LINES = ['Good morrow.', 'Whither?', 'Speak.', 'Why so?', 'Nay.', 'Come hither.', 'Farewell!', 'What news?', 'Peace.', 'Adieu.'];

/** A fresh request with the whole history and no session: what any replica would answer. */
async function fresh(c: OpenAI, messages: readonly Message[]): Promise<string> {
  const r = await c.chat.completions.create({ model: server.modelId, messages: [...messages], max_tokens: 6, temperature: 0 });
  return r.choices[0]!.message.content ?? '';
}

describe("the official client's multi-turn loop: push the reply, ask again", () => {
  it('works for 10 turns without streaming; each greedy answer equals a fresh full-history request', async () => {
    const c = client(server, { 'X-Session-Id': 'loop-plain' });
    const anon = client(server);
    const messages: Message[] = [];
    for (const line of LINES) {
      messages.push({ role: 'user', content: line });
      const r = await c.chat.completions.create({ model: server.modelId, messages, max_tokens: 6, temperature: 0 });
      const reply = r.choices[0]!.message;
      expect(await fresh(anon, messages)).toBe(reply.content);
      messages.push(reply); // the server's own message: role, content, refusal: null
    }
    expect(messages).toHaveLength(20);
  });

  it('works for 10 turns streaming, pushing the message the client assembles from the stream', async () => {
    const c = client(server, { 'X-Session-Id': 'loop-stream' });
    const anon = client(server);
    const messages: Message[] = [];
    for (const line of LINES) {
      messages.push({ role: 'user', content: line });
      const final = await c.chat.completions.stream({ model: server.modelId, messages, max_tokens: 6, temperature: 0 }).finalChatCompletion();
      const reply = final.choices[0]!.message;
      expect(await fresh(anon, messages)).toBe(reply.content);
      messages.push(reply);
    }
    expect(messages).toHaveLength(20);
  });
});

describe('every request field of the chat and completions APIs', () => {
  const neutralChat = {
    frequency_penalty: 0, presence_penalty: 0, logit_bias: {}, store: false, parallel_tool_calls: true, tools: [], tool_choice: 'none',
    functions: [], function_call: 'none', n: 1, response_format: { type: 'text' }, modalities: ['text'], audio: null, metadata: { app: 'x' },
    service_tier: 'auto', user: 'u-1', safety_identifier: 'hash', prompt_cache_key: 'k', prediction: null, reasoning_effort: null,
    verbosity: null, web_search_options: null, seed: 1, stream_options: null, logprobs: false, top_logprobs: null, max_completion_tokens: 4, stop: null,
  };

  it('accepts neutral values of them all, as frameworks send by default, and answers as without them', async () => {
    const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hail' }] }, { role: 'assistant', content: null, refusal: 'No.', tool_calls: [], annotations: [] }, { role: 'user', content: 'Again', name: 'bob' }];
    const withFields = await post(server, '/v1/chat/completions', { messages, temperature: 0, ...neutralChat });
    const bare = await post(server, '/v1/chat/completions', { messages, temperature: 0, max_completion_tokens: 4 });
    expect(withFields.status).toBe(200);
    expect(withFields.json.choices[0].message.content).toBe(bare.json.choices[0].message.content);
    const completion = await post(server, '/v1/completions', { prompt: 'KING:', max_tokens: 4, temperature: 0, echo: false, suffix: null, best_of: 1, n: 1, logit_bias: {}, presence_penalty: 0, frequency_penalty: 0, user: 'u' });
    expect(completion.status).toBe(200);
  });

  it.each([
    ['tools', { tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools'],
    ['a required tool choice', { tool_choice: 'required' }, 'tool_choice'],
    ['JSON mode', { response_format: { type: 'json_object' } }, 'response_format.type'],
    ['a JSON schema', { response_format: { type: 'json_schema', json_schema: { name: 's', schema: {} } } }, 'response_format.type'],
    ['audio output', { modalities: ['text', 'audio'] }, 'modalities'],
    ['an image part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] }, 'messages.0.content.0.type'],
    ['a tool call in history', { messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }] }, 'messages.0.tool_calls'],
    ['reasoning', { reasoning_effort: 'high' }, 'reasoning_effort'],
  ])('refuses %s with a 400 naming the field', async (_, fields, field) => {
    const r = await post(server, '/v1/chat/completions', { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, ...fields });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('SERVE_FIELD_UNSUPPORTED');
    expect(r.json.error.param).toBe(field);
    expect(r.json.error.message).toContain(`${field}:`);
  });

  it('refuses completions fields at values we do not implement (echo, suffix, best_of > n)', async () => {
    for (const [fields, field] of [[{ echo: true }, 'echo'], [{ suffix: 'end' }, 'suffix'], [{ best_of: 3 }, 'best_of']] as const) {
      const r = await post(server, '/v1/completions', { prompt: 'KING:', max_tokens: 2, ...fields });
      expect(r.status).toBe(400);
      expect(r.json.error.param).toBe(field);
    }
  });
});

describe('logit_bias, presence and frequency penalties, n choices', () => {
  const tok = () => bundle.tokenizer;

  it('logit_bias +100 on one token makes greedy decoding repeat it', async () => {
    const z = tok().encode('Z');
    expect(z).toHaveLength(1);
    const r = await post(server, '/v1/completions', { prompt: 'KING:', max_tokens: 5, temperature: 0, logit_bias: { [z[0]!]: 100 } });
    expect(r.json.choices[0].text).toBe('ZZZZZ');
  });

  it('greedy decoding with penalties picks what the formula applied by hand to the raw logprobs picks', async () => {
    const presence = 0.7;
    const frequency = 1.3;
    const prompt = tok().encode('ROMEO:\n');
    const K = 10;
    const r = await post(server, '/v1/completions', { prompt, max_tokens: K, temperature: 0, presence_penalty: presence, frequency_penalty: frequency });
    // The reference: one step at a time, the raw top-5 logprobs (no penalty), penalized here by OpenAI's formula.
    const generated: number[] = [];
    for (let step = 0; step < K; step++) {
      const one = await post(server, '/v1/completions', { prompt: [...prompt, ...generated], max_tokens: 1, temperature: 0, logprobs: 5 });
      const top = Object.entries(one.json.choices[0].logprobs.top_logprobs[0] as Record<string, number>).map(([t, lp]) => {
        const id = tok().encode(t)[0]!;
        const count = generated.filter((g) => g === id).length;
        return { id, score: lp - frequency * count - (count > 0 ? presence : 0), raw: lp };
      }).sort((a, b) => b.score - a.score);
      // The choice among the top 5 is the choice overall when it beats the 5th raw logprob (nothing lower can overtake it).
      expect(top[0]!.score).toBeGreaterThan(Math.min(...top.map((t) => t.raw)));
      generated.push(top[0]!.id);
    }
    expect(r.json.choices[0].text).toBe(tok().decode(generated));
    expect(new Set(generated).size).toBeGreaterThan(3); // the penalties did change something worth checking
  });

  it('n = 3 returns three choices; choice i samples as a single request with seed + i', async () => {
    const body = { prompt: 'KING:', max_tokens: 8, temperature: 1, seed: 41 };
    const r = await post(server, '/v1/completions', { ...body, n: 3 });
    expect(r.json.choices.map((ch: { index: number }) => ch.index)).toEqual([0, 1, 2]);
    for (const i of [0, 1, 2]) {
      const single = await post(server, '/v1/completions', { ...body, seed: 41 + i });
      expect(r.json.choices[i].text).toBe(single.json.choices[0].text);
    }
    expect(r.json.usage.completion_tokens).toBe(24);
  });

  it('streams n = 2 chat choices whose deltas, per index, add up to the non-streamed choices', async () => {
    const c = client(server);
    const params = { model: server.modelId, messages: [{ role: 'user' as const, content: 'Speak' }], max_tokens: 6, temperature: 0.8, seed: 5, n: 2 };
    const whole = await c.chat.completions.create(params);
    const texts = ['', ''];
    for await (const chunk of await c.chat.completions.create({ ...params, stream: true })) for (const ch of chunk.choices) texts[ch.index] += ch.delta.content ?? '';
    expect(texts).toEqual(whole.choices.map((ch) => ch.message.content));
  });
});
