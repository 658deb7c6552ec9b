// The HTTP corpus against a live server: each malformed request gets its 4xx, a typed code and a message naming the field;
// slow and aborted uploads and dropped answers stay quiet (one log line, counted apart from 5xx); no stack anywhere.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ERROR_CODES } from '../../src/errors/codes.js';
import type { ServerHandle } from '../../src/serve/server.js';
import { buildBundle, rawRequest, startServer } from '../serve/serve-helpers.js';
import { HTTP_CASES } from './http-bodies.js';

const STACK = /^\s+at\s|\.(?:js|ts|mjs):\d+:\d+|Error: aborted/m;
let server: ServerHandle;
const logged: string[] = [];
const printed: string[] = [];

beforeAll(async () => {
  // Everything the process prints while the corpus runs is kept and searched for stacks.
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { printed.push(a.map(String).join(' ')); });
  vi.spyOn(console, 'warn').mockImplementation((...a: unknown[]) => { printed.push(a.map(String).join(' ')); });
  server = await startServer(await buildBundle(), { bodyTimeoutMs: 400, log: (line) => logged.push(line) });
});
afterAll(async () => {
  await server.close();
  vi.restoreAllMocks();
});

/** Sends raw bytes on a socket and returns what came back before the server closed it or `waitMs` passed. */
function rawSocket(bytes: readonly (string | Buffer)[], opts: { readonly destroyAfterMs?: number; readonly waitMs: number }): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(server.port, server.host);
    let got = '';
    socket.on('data', (d: Buffer) => { got += d.toString('utf8'); });
    socket.on('error', () => undefined);
    const done = () => { socket.destroy(); resolve(got); };
    socket.on('close', done);
    socket.on('connect', () => {
      for (const b of bytes) socket.write(b);
      if (opts.destroyAfterMs !== undefined) setTimeout(done, opts.destroyAfterMs);
    });
    setTimeout(done, opts.waitMs);
  });
}

async function metric(pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

async function settled(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const h = (await (await fetch(`${server.url}/health`)).json()) as { active: number; queue: number };
    if (h.active === 0 && h.queue === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the server kept a request active');
}

describe('HTTP corpus: every malformed request is refused with a typed OpenAI error naming the field', () => {
  it.each(HTTP_CASES.map((c) => [c.id, c] as const))('%s', async (_, c) => {
    const headers: Record<string, string> = { ...(c.body !== undefined ? { 'content-type': c.contentType ?? 'application/json' } : {}), ...c.headers };
    const r = await rawRequest(server, { method: c.method ?? 'POST', path: c.path, headers, ...(c.body !== undefined ? { body: c.body } : {}) });
    expect(r.status, c.what).toBe(c.status);
    const { error } = JSON.parse(r.text) as { error: { message: string; type: string; param: string | null; code: string; hint: string } };
    expect(Object.keys(ERROR_CODES)).toContain(error.code);
    expect(error.code).toBe(c.code);
    expect(error.type).toMatch(/_error$/);
    for (const words of c.says) expect(error.message).toContain(words);
    if (c.param !== undefined) expect(error.param).toBe(c.param);
    expect(r.text).not.toMatch(STACK);
    if (c.status === 405) expect(r.headers['allow']).toBe(c.method === 'GET' ? 'POST' : 'GET');
  });
});

describe('faults stay quiet: slow and aborted uploads, dropped answers', () => {
  const head = (length: number) => `POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

  it('a slow upload gets 408 with a typed code once the body timeout passes', async () => {
    const got = await rawSocket([head(200), '{"prompt": "KI'], { waitMs: 5000 });
    expect(got).toMatch(/^HTTP\/1\.1 408/);
    expect(got).toContain('"code":"SERVE_BODY_TIMEOUT"');
    await settled();
  });

  it('an aborted upload is one log line and one upload disconnect, not a 500, and holds nothing', async () => {
    const before = logged.length;
    await rawSocket([head(500), '{"prompt": "KI'], { destroyAfterMs: 50, waitMs: 2000 });
    let n = 0;
    for (let i = 0; i < 100 && n === 0; i++) { n = await metric(/^snn_client_disconnects_total\{phase="upload"\} (\d+)/m); await new Promise((r) => setTimeout(r, 20)); }
    expect(n).toBe(1);
    expect(logged.slice(before)).toEqual(['client went away: POST /v1/completions during the upload']);
    await settled();
  });

  it('a client that drops a non-streamed answer frees its slot and is counted as a generate disconnect', async () => {
    const body = JSON.stringify({ prompt: 'KING:', max_tokens: 100 });
    await rawSocket([head(Buffer.byteLength(body)), body], { destroyAfterMs: 150, waitMs: 2000 });
    await settled();
    expect(await metric(/^snn_client_disconnects_total\{phase="generate"\} (\d+)/m)).toBe(1);
  });

  it('printed no stack and answered no 5xx across the whole corpus', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).not.toMatch(/status="5\d\d"/);
    for (const line of [...logged, ...printed]) expect(line).not.toMatch(STACK);
    expect(printed).toEqual([]);
  });
});
