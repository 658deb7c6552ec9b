// Bad requests get 400/404 with a typed message; a full queue 429 + Retry-After; a disconnect frees its slot; close() drains.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../src/runtime/model.js';
import type { ServerHandle } from '../../src/serve/server.js';
import { snnRejection } from '../helpers.js';
import { buildBundle, openBundle, post, startServer } from './serve-helpers.js';

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

const CHAT = '/v1/chat/completions';
const hello = { messages: [{ role: 'user', content: 'Good morrow' }], max_tokens: 4 };

async function health(s: ServerHandle): Promise<{ active: number; queue: number; status: string }> {
  return (await fetch(`${s.url}/health`)).json() as Promise<{ active: number; queue: number; status: string }>;
}

describe('bad requests are refused with a status and a message that says what to fix', () => {
  it.each([
    ['malformed JSON', '{"messages": [', 'SERVE_BODY_MALFORMED', 'not valid JSON'],
    ['an unknown field', { ...hello, temperament: 1 }, 'SERVE_REQUEST_INVALID', 'unknown field "temperament"'],
    ['an unknown field inside a message', { messages: [{ role: 'user', content: 'hi', weight: 1 }] }, 'SERVE_REQUEST_INVALID', 'unknown field "weight" in messages.0'],
    ['n beyond the batch', { ...hello, n: 99 }, 'SERVE_FIELD_UNSUPPORTED', 'n: at most 16 choices'],
    ['a negative max_tokens', { ...hello, max_tokens: -1 }, 'SERVE_REQUEST_INVALID', 'max_tokens: must be a whole number ≥ 1'],
    ['no messages', { messages: [] }, 'SERVE_REQUEST_INVALID', 'at least one message'],
    ['a tool role', { messages: [{ role: 'tool', content: 'x', tool_call_id: 'c1' }] }, 'SERVE_FIELD_UNSUPPORTED', 'messages.0.role: "tool" messages'],
    ['an unknown role', { messages: [{ role: 'narrator', content: 'x' }] }, 'SERVE_REQUEST_INVALID', 'valid: system, developer, user, assistant'],
  ])('%s → 400', async (_, body, code, words) => {
    const r = await post(server, CHAT, body);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe(code);
    expect(r.json.error.type).toBe('invalid_request_error');
    expect(r.json.error.message).toContain(words);
    expect(r.json.error.hint.length).toBeGreaterThan(10);
  });

  it('refuses a model it does not serve with 404 naming the served one', async () => {
    const r = await post(server, CHAT, { ...hello, model: 'gpt-4o' });
    expect(r.status).toBe(404);
    expect(r.json.error.message).toContain(JSON.stringify(server.modelId));
  });

  it('refuses a prompt beyond the context with 400 naming the limit (--overflow error)', async () => {
    const r = await post(server, '/v1/completions', { prompt: 'x'.repeat(120), max_tokens: 20 });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('CONTEXT_OVERFLOW');
    expect(r.json.error.message).toContain('128 tokens');
    expect(r.json.error.message).toContain('the prompt takes 120');
  });

  it('slides instead under --overflow slide: the newest tokens are kept and the answer is complete', async () => {
    const sliding = await startServer(bundle, { overflow: 'slide' });
    try {
      const r = await post(sliding, '/v1/completions', { prompt: 'ROMEO: '.repeat(40), max_tokens: 20, temperature: 0 });
      expect(r.status).toBe(200);
      expect(r.json.usage.completion_tokens).toBe(20);
      expect(r.json.usage.prompt_tokens).toBeLessThanOrEqual(128 - 20);
    } finally {
      await sliding.close();
    }
  });

  it('answers an unknown route with a JSON 404', async () => {
    const r = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain('/v1/embeddings');
  });
});

describe('back-pressure, disconnects and shutdown', () => {
  it('refuses requests beyond the queue with 429 and Retry-After, and answers every other one completely', async () => {
    const small = await startServer(bundle, { maxBatch: 1, maxQueue: 1 });
    try {
      const results = await Promise.all(Array.from({ length: 6 }, () => post(small, '/v1/completions', { prompt: 'KING:', max_tokens: 8, temperature: 0 })));
      const refused = results.filter((r) => r.status === 429);
      const answered = results.filter((r) => r.status === 200);
      expect(refused.length + answered.length).toBe(6);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(answered.length).toBeGreaterThanOrEqual(2);
      for (const r of refused) {
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(r.json.error.code).toBe('SERVE_QUEUE_FULL');
      }
      for (const r of answered) expect(r.json.usage.completion_tokens).toBe(8);
      expect(await (await fetch(`${small.url}/metrics`)).text()).toContain(`snn_rejected_total ${refused.length}`);
    } finally {
      await small.close();
    }
  });

  it('frees the slot of a client that disconnects mid-stream', async () => {
    const one = await startServer(bundle, { maxBatch: 1, maxQueue: 0 });
    try {
      const abort = new AbortController();
      const res = await fetch(`${one.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'KING:', max_tokens: 100, stream: true }), headers: { 'content-type': 'application/json' }, signal: abort.signal });
      const reader = res.body!.getReader();
      await reader.read(); // the first event arrived: the request is generating
      expect((await health(one)).active).toBe(1);
      abort.abort();
      let h = await health(one);
      for (let i = 0; i < 200 && h.active > 0; i++) { await new Promise((r) => setTimeout(r, 10)); h = await health(one); }
      expect(h.active).toBe(0);
      const metrics = await (await fetch(`${one.url}/metrics`)).text();
      expect(Number(/^snn_completion_tokens_total (\d+)/m.exec(metrics)![1])).toBeLessThan(100);
      // Counted apart from errors: one disconnect during the stream, no 5xx.
      expect(metrics).toMatch(/^snn_client_disconnects_total\{phase="stream"\} 1$/m);
      expect(metrics).not.toMatch(/status="5\d\d"/);
      // The freed slot serves the next request (the queue is 0: it would get 429 if the slot were still held).
      const next = await post(one, '/v1/completions', { prompt: 'QUEEN:', max_tokens: 3 });
      expect(next.status).toBe(200);
    } finally {
      await one.close();
    }
  });

  it('close() lets an in-flight request finish, then refuses connections', async () => {
    const s = await startServer(bundle);
    const inflight = post(s, '/v1/completions', { prompt: 'KING:', max_tokens: 30, temperature: 0 });
    await new Promise((r) => setTimeout(r, 150));
    await s.close();
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.json.usage.completion_tokens).toBe(30);
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
  });

  it('reports a port in use as SERVE_BIND_FAILED', async () => {
    const e = await snnRejection(startServer(bundle, { port: server.port }));
    expect(e.code).toBe('SERVE_BIND_FAILED');
    expect(e.message).toContain(String(server.port));
  });

  it('reports on /health the device the model was opened on', async () => {
    // A bundle opened elsewhere (as `serve --device webgpu` opens it): serve() must not say cpu.
    const onGpu = Object.create(bundle, { device: { value: 'webgpu' } }) as Bundle;
    const s = await startServer(onGpu);
    try {
      expect(((await (await fetch(`${s.url}/health`)).json()) as { device: string }).device).toBe('webgpu');
      expect(s.device).toBe('webgpu');
    } finally {
      await s.close();
    }
  });
});
