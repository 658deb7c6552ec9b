// Scale-out: real HAProxy (the printed config) in front of two CLI replicas on loopback; a replica killed mid-conversation
// costs nothing but the request in flight: the next turn is answered by the other with identical greedy tokens.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haproxyConfig } from '../../src/serve/haproxy.js';
import { CLI, tempDir } from '../helpers.js';
import { buildBundle } from './serve-helpers.js';

/** haproxy from PATH or Debian's place; CI installs it (.ci/run), so only a machine that cannot skips. */
const HAPROXY = ['haproxy', '/usr/sbin/haproxy'].find((bin) => spawnSync(bin, ['-v'], { encoding: 'utf8' }).status === 0) ?? null;
const KEY = 'replica-test-key-0001';
const children: ChildProcess[] = [];

/** A free loopback port block: base, base+1, base+2 all bindable (the frontend and two replicas). */
async function freeBase(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ok = await Promise.all([0, 1, 2].map((i) => new Promise<boolean>((resolve) => {
      const s = createServer().once('error', () => resolve(false)).listen(base + i, '127.0.0.1', () => s.close(() => resolve(true)));
    })));
    if (ok.every(Boolean)) return base;
  }
  throw new Error('no free port block on 127.0.0.1');
}

function start(cmd: string, args: readonly string[], ready: RegExp | null): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  if (ready === null) return Promise.resolve(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${out}`)), 60_000);
    const onData = (d: Buffer) => { out += d.toString(); if (ready.test(out)) { clearTimeout(timer); resolve(child); } };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited ${code}: ${out}`)); });
  });
}

async function health(port: number): Promise<{ sessions: number } | null> {
  try { return (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { sessions: number }; } catch { return null; }
}

describe.skipIf(HAPROXY === null)(`HAProxy in front of two replicas${HAPROXY === null ? ' — skipped: haproxy is not installed (apt-get install haproxy)' : ''}`, () => {
  let base = 0;
  let bundle = '';

  beforeAll(async () => {
    bundle = await buildBundle();
    base = await freeBase();
    const replicas = [1, 2].map((i) => start(process.execPath, [CLI, 'serve', bundle, '--port', String(base + i), '--api-key', KEY, '--overflow', 'slide'], /serving .* on http/));
    await Promise.all(replicas);
    const cfg = join(tempDir('snn-haproxy-'), 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig({ replicas: 2, host: '127.0.0.1', port: base, bundle, checkIntervalMs: 200 }));
    expect(spawnSync(HAPROXY!, ['-c', '-f', cfg], { encoding: 'utf8' }).status).toBe(0);
    await start(HAPROXY!, ['-db', '-f', cfg], null);
    // Ready when HAProxy's checks found both replicas up: two answers in a row through it (bounded).
    let ok = 0;
    for (let i = 0; i < 100 && ok < 4; i++) {
      const res = await fetch(`http://127.0.0.1:${base}/health`).catch(() => null);
      ok = res?.status === 200 ? ok + 1 : 0;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ok).toBe(4);
  }, 180_000);

  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('routes a session to one replica; after that replica is killed the next turn is answered elsewhere, identically', async () => {
    const statuses: number[] = [];
    const fetchCounting: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      statuses.push(res.status);
      return res;
    };
    const c = new OpenAI({ baseURL: `http://127.0.0.1:${base}/v1`, apiKey: KEY, maxRetries: 0, defaultHeaders: { 'X-Session-Id': 'failover' }, fetch: fetchCounting });
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [];
    const ask = async (line: string) => {
      messages.push({ role: 'user', content: line });
      const r = await c.chat.completions.create({ model: 'shk', messages, max_tokens: 6, temperature: 0, logprobs: true });
      messages.push(r.choices[0]!.message);
      return r;
    };
    await ask('Good morrow.');
    await ask('Whither?');
    // The session lives on exactly one replica (consistent hashing on the key and session id).
    const held = await Promise.all([1, 2].map(async (i) => (await health(base + i))!.sessions));
    expect(held.filter((n) => n > 0)).toHaveLength(1);
    const owner = held[0]! > 0 ? 1 : 2;
    const survivor = 3 - owner;
    // A request in flight on that replica when it dies may be lost (the one allowed failure), or retried elsewhere.
    const other = new OpenAI({ baseURL: `http://127.0.0.1:${base}/v1`, apiKey: KEY, maxRetries: 0, defaultHeaders: { 'X-Session-Id': 'failover' } });
    const inflight = other.completions.create({ model: 'shk', prompt: 'KING:', max_tokens: 100, temperature: 0 }).then(() => 'answered', () => 'lost');
    await new Promise((r) => setTimeout(r, 300));
    children[owner - 1]!.kill('SIGKILL');
    await new Promise<void>((resolve) => children[owner - 1]!.once('exit', () => resolve()));
    const after = await ask('Speak.');
    // The survivor now holds it, and its answer equals a fresh full-history request sent to it directly.
    expect((await health(base + survivor))!.sessions).toBeGreaterThan(0);
    const direct = new OpenAI({ baseURL: `http://127.0.0.1:${base + survivor}/v1`, apiKey: KEY, maxRetries: 0 });
    const fresh = await direct.chat.completions.create({ model: 'shk', messages: messages.slice(0, -1), max_tokens: 6, temperature: 0, logprobs: true });
    expect(after.choices[0]!.logprobs!.content!.map((t) => t.token)).toEqual(fresh.choices[0]!.logprobs!.content!.map((t) => t.token));
    expect(after.choices[0]!.message.content).toBe(fresh.choices[0]!.message.content);
    await ask('Farewell!');
    // No request of the conversation lost or answered with an error; the one in flight at the kill either way.
    expect(statuses).toEqual([200, 200, 200, 200]);
    await inflight; // settles (answered by a retry, or lost): it does not hang
  }, 120_000);
});
