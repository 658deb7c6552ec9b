// Continuing a session gives exactly what a fresh full-history request gives (greedy tokens and logprobs), and both match an uncached recompute.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../src/runtime/model.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import type { ServerHandle } from '../../src/serve/server.js';
import { buildBundle, client, openBundle, startServer } from './serve-helpers.js';

type Msg = { role: 'user' | 'assistant'; content: string };
interface Answer { readonly text: string; readonly tokens: string[]; readonly logprobs: number[]; readonly cached: number; readonly finish: string }

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

async function ask(messages: readonly Msg[], session: string | null, maxTokens = 10): Promise<Answer> {
  const c = client(server, session ? { 'X-Session-Id': session } : {});
  const r = await c.chat.completions.create({ model: server.modelId, messages: [...messages], max_tokens: maxTokens, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0]!.logprobs!.content!;
  return { text: r.choices[0]!.message.content ?? '', tokens: content.map((t) => t.token), logprobs: content.map((t) => t.logprob), cached: r.usage!.prompt_tokens_details?.cached_tokens ?? -1, finish: r.choices[0]!.finish_reason };
}

/**
 * The plain transcript as the test renders it (independent of the server): byte tokens of "User: …\nAssistant:".
 * A reply is exact text, so one that begins with whitespace (the model writes the space after "Assistant:") gets no added space.
 */
function transcript(messages: readonly Msg[]): number[] {
  const lines = messages.map((m) => m.role === 'user' ? `User: ${m.content}` : `Assistant:${/^\s/.test(m.content) ? '' : ' '}${m.content}`);
  return [...Buffer.from([...lines, 'Assistant:'].join('\n'), 'utf8')];
}

/** Greedy decoding by full recompute (no cache, no session, no batching): the reference. */
async function recomputeGreedy(prompt: readonly number[], n: number): Promise<{ ids: number[]; logprobs: number[] }> {
  const tsp = new TemporalSpikeProcessor(bundle);
  const ids: number[] = [];
  const logprobs: number[] = [];
  for (let i = 0; i < n; i++) {
    const out = await tsp.forward([[...prompt, ...ids]], { useCache: false });
    const row = out.rowLogits[0]!;
    const last = row.subarray(row.length - tsp.spec.vocabSize);
    let best = 0;
    for (let v = 1; v < last.length; v++) if (last[v]! > last[best]!) best = v;
    let max = -Infinity;
    for (const x of last) max = Math.max(max, x);
    let sum = 0;
    for (const x of last) sum += Math.exp(x - max);
    ids.push(best);
    logprobs.push(last[best]! - max - Math.log(sum));
  }
  return { ids, logprobs };
}

describe('a session continued turn by turn equals a fresh full-history request', () => {
  it('gives the same greedy tokens and logprobs on every turn, and both equal an uncached recompute', async () => {
    const history: Msg[] = [];
    for (const [turn, line] of ['Good morrow.', 'Say on.', 'Farewell.'].entries()) {
      history.push({ role: 'user', content: line });
      const continued = await ask(history, 'eq-session');
      const fresh = await ask(history, null);
      expect(continued.tokens).toEqual(fresh.tokens);
      expect(continued.logprobs).toEqual(fresh.logprobs);
      expect(continued.text).toBe(fresh.text);
      expect(fresh.cached).toBe(0);
      if (turn > 0) expect(continued.cached).toBeGreaterThan(0);
      const reference = await recomputeGreedy(transcript(history), continued.tokens.length);
      expect(continued.tokens).toEqual(reference.ids.map((id) => Buffer.from([id]).toString('utf8')));
      for (const [i, lp] of continued.logprobs.entries()) expect(Math.abs(lp - reference.logprobs[i]!)).toBeLessThan(1e-5);
      history.push({ role: 'assistant', content: continued.text });
    }
  });

  it('rebuilds from the common prefix when the history diverges, and still equals a fresh request', async () => {
    const first: Msg[] = [{ role: 'user', content: 'Speak of the king.' }];
    const a = await ask(first, 'diverge');
    const base: Msg[] = [...first, { role: 'assistant', content: a.text }];
    await ask([...base, { role: 'user', content: 'And of the queen?' }], 'diverge');
    // Edit the first message: only "User: Speak of the " is shared with what the session holds.
    const edited: Msg[] = [{ role: 'user', content: 'Speak of the queen.' }, { role: 'assistant', content: a.text }, { role: 'user', content: 'And of the king?' }];
    const continued = await ask(edited, 'diverge');
    const fresh = await ask(edited, null);
    expect(continued.cached).toBe(Buffer.byteLength('User: Speak of the '));
    expect(continued.tokens).toEqual(fresh.tokens);
    expect(continued.logprobs).toEqual(fresh.logprobs);
  });

  it('reports the top logprobs in descending order, the chosen greedy token first', async () => {
    const c = client(server);
    const r = await c.chat.completions.create({ model: server.modelId, messages: [{ role: 'user', content: 'Hail!' }], max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 3 });
    for (const t of r.choices[0]!.logprobs!.content!) {
      expect(t.top_logprobs).toHaveLength(3);
      expect(t.top_logprobs[0]!.token).toBe(t.token);
      expect(t.top_logprobs[0]!.logprob).toBe(t.logprob);
      expect(t.top_logprobs[1]!.logprob).toBeLessThanOrEqual(t.top_logprobs[0]!.logprob);
      expect(t.logprob).toBeLessThanOrEqual(0);
    }
  });
});
