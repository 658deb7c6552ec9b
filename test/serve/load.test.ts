// Bounded load on 127.0.0.1: concurrent clients over many sessions; every request is answered completely or refused with 429, never mixed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../src/runtime/model.js';
import type { ServerHandle } from '../../src/serve/server.js';
import { buildBundle, openBundle, post, startServer } from './serve-helpers.js';

const PROMPTS = ['ROMEO:', 'JULIET:', 'KING:', 'QUEEN:', 'HAMLET:', 'First Citizen:', 'MENENIUS:', 'LEAR:'];
const MAX_TOKENS = 6;
const REQUESTS = 200;
const CLIENTS = 24;

/** A refused client waits the Retry-After the server gave (1 s here) before its next request. */
const backOff = () => new Promise((r) => setTimeout(r, 1000));

let bundle: Bundle;
let server: ServerHandle;
/** What each prompt gives greedily when asked alone on an idle server. */
const expected = new Map<string, string>();

beforeAll(async () => {
  bundle = await openBundle(await buildBundle());
  server = await startServer(bundle, { maxBatch: 8, maxQueue: 8, maxSessions: 16 });
  for (const p of PROMPTS) expected.set(p, (await post(server, '/v1/completions', { prompt: p, max_tokens: MAX_TOKENS, temperature: 0 })).json.choices[0].text);
});
afterAll(async () => {
  await server.close();
  await bundle.release();
});

describe(`${REQUESTS} requests from ${CLIENTS} concurrent clients`, () => {
  it('are each answered with exactly the text the prompt gives alone, or refused with 429', async () => {
    let next = 0;
    const outcomes: { status: number; ok: boolean; detail: string }[] = [];
    const worker = async (w: number) => {
      while (next < REQUESTS) {
        const i = next++;
        const prompt = PROMPTS[i % PROMPTS.length]!;
        // Half the requests run in named sessions (32 of them, beyond --max-sessions 16: eviction happens), half privately.
        const headers: Record<string, string> = { 'content-type': 'application/json', ...(i % 2 === 0 ? { 'X-Session-Id': `s${(w * 7 + i) % 32}` } : {}) };
        const stream = i % 3 === 0;
        if (stream) {
          const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers, body: JSON.stringify({ prompt, max_tokens: MAX_TOKENS, temperature: 0, stream: true }) });
          if (res.status !== 200) { outcomes.push({ status: res.status, ok: res.status === 429 && res.headers.has('retry-after'), detail: await res.text() }); await backOff(); continue; }
          const events = (await res.text()).split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
          const done = events[events.length - 1] === '[DONE]';
          const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e) as { id: string; choices: { text: string; finish_reason: string | null }[] });
          const text = chunks.map((c) => c.choices[0]!.text).join('');
          const oneId = new Set(chunks.map((c) => c.id)).size === 1;
          const finish = chunks[chunks.length - 1]!.choices[0]!.finish_reason;
          outcomes.push({ status: 200, ok: done && oneId && finish === 'length' && text === expected.get(prompt), detail: `${prompt} → ${JSON.stringify(text)}` });
        } else {
          const r = await post(server, '/v1/completions', { prompt, max_tokens: MAX_TOKENS, temperature: 0 }, headers);
          if (r.status !== 200) { outcomes.push({ status: r.status, ok: r.status === 429 && r.headers.has('retry-after'), detail: JSON.stringify(r.json) }); await backOff(); continue; }
          const c = r.json.choices[0];
          outcomes.push({ status: 200, ok: c.finish_reason === 'length' && r.json.usage.completion_tokens === MAX_TOKENS && c.text === expected.get(prompt), detail: `${prompt} → ${JSON.stringify(c.text)}` });
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w)));
    expect(outcomes).toHaveLength(REQUESTS);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    const answered = outcomes.filter((o) => o.status === 200).length;
    const refused = outcomes.filter((o) => o.status === 429).length;
    expect(answered + refused).toBe(REQUESTS);
    // 24 clients against 8 slots + 8 queue places: some are refused, most are answered.
    expect(refused).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(refused);
    const h = (await (await fetch(`${server.url}/health`)).json()) as { active: number; queue: number; sessions: number };
    expect(h).toMatchObject({ active: 0, queue: 0 });
    expect(h.sessions).toBeLessThanOrEqual(16);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^snn_session_evictions_total [1-9]/m);
    // Only private conversations are dropped after their request: what the processor holds is bounded by the sessions.
    expect(Number(/^snn_rejected_total (\d+)/m.exec(metrics)![1])).toBe(refused);
    console.log(`[load] ${answered} answered, ${refused} refused with 429`);
  });
});

describe('concurrent requests share batched model calls', () => {
  it('runs 4 concurrent 8-token requests in fewer steps than 32, each answer equal to its prompt alone', async () => {
    const fresh = await startServer(bundle, { maxBatch: 8 });
    try {
      const prompts = PROMPTS.slice(0, 4);
      const alone: string[] = [];
      for (const p of prompts) alone.push((await post(fresh, '/v1/completions', { prompt: p, max_tokens: 8, temperature: 0 })).json.choices[0].text);
      const steps = async () => Number(/^snn_batch_steps_total (\d+)/m.exec(await (await fetch(`${fresh.url}/metrics`)).text())![1]);
      const before = await steps();
      const together = await Promise.all(prompts.map((p) => post(fresh, '/v1/completions', { prompt: p, max_tokens: 8, temperature: 0 })));
      const used = (await steps()) - before;
      expect(together.map((r) => r.json.choices[0].text)).toEqual(alone);
      // One at a time would take 4 × 8 = 32 steps; batched, the four share most of them.
      expect(used).toBeLessThan(20);
    } finally {
      await fresh.close();
    }
  });
});
