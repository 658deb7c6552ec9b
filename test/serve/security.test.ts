// Who may call the server: API keys, sessions scoped to the key, Host and Origin checks, JSON only, CORS only when asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../src/runtime/model.js';
import { collectKeys, isLoopback } from '../../src/serve/security.js';
import type { ServerHandle } from '../../src/serve/server.js';
import { snnRejection } from '../helpers.js';
import { buildBundle, openBundle, post, rawRequest, startServer } from './serve-helpers.js';

const KEY_A = 'key-alice-0123456789';
const KEY_B = 'key-bob-9876543210';
let bundle: Bundle;
let server: ServerHandle;

beforeAll(async () => {
  bundle = await openBundle(await buildBundle());
  server = await startServer(bundle, { apiKeys: [KEY_A, KEY_B] });
});
afterAll(async () => {
  await server.close();
  await bundle.release();
});

const hello = { prompt: 'KING:', max_tokens: 3, temperature: 0 };
const bearer = (key: string, more: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...more });

describe('API keys', () => {
  it('refuses a request without a key, or with a wrong one, with 401 and WWW-Authenticate', async () => {
    for (const headers of [{}, bearer('key-mallory-000000'), { authorization: KEY_A }]) {
      const r = await post(server, '/v1/completions', hello, headers);
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe('SERVE_UNAUTHORIZED');
      expect(r.json.error.type).toBe('authentication_error');
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
  });

  it('answers each listed key; /health stays open for load balancers', async () => {
    expect((await post(server, '/v1/completions', hello, bearer(KEY_A))).status).toBe(200);
    expect((await post(server, '/v1/completions', hello, bearer(KEY_B))).status).toBe(200);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('scopes sessions to the key: another key cannot see, probe or rewind a session of the same name', async () => {
    const secret = { prompt: 'The secret word is PIGEON. KING:', max_tokens: 2, temperature: 0 };
    const first = await post(server, '/v1/completions', secret, bearer(KEY_A, { 'x-session-id': 'shared-name' }));
    expect(first.json.usage.prompt_tokens_details.cached_tokens).toBe(0);
    // Bob guesses the prompt under the same session name: nothing matches in his own (empty) scope.
    const probe = await post(server, '/v1/completions', secret, bearer(KEY_B, { 'x-session-id': 'shared-name' }));
    expect(probe.json.usage.prompt_tokens_details.cached_tokens).toBe(0);
    // Bob's other prompt under that name does not rewind Alice's session: her next turn finds all of it.
    await post(server, '/v1/completions', { prompt: 'Something else entirely', max_tokens: 2 }, bearer(KEY_B, { 'x-session-id': 'shared-name' }));
    const again = await post(server, '/v1/completions', { ...secret, prompt: `${secret.prompt}${first.json.choices[0].text} and` }, bearer(KEY_A, { 'x-session-id': 'shared-name' }));
    expect(again.json.usage.prompt_tokens_details.cached_tokens).toBe(bundle.tokenizer.encode(secret.prompt).length + 1);
  });

  it('reads keys from flags, a file and the environment, and refuses short ones', () => {
    expect(collectKeys(['flag-key-1234'], '# comment\nfile-key-1234\n\n', 'env-key-12345, env-key-67890')).toEqual(['flag-key-1234', 'file-key-1234', 'env-key-12345', 'env-key-67890']);
    expect(() => collectKeys(['short'], null, undefined)).toThrow(/at least 8 characters/);
  });
});

describe('binding and browsers', () => {
  it('refuses a non-loopback bind without a key unless insecureNoAuth says so', async () => {
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0') || isLoopback('192.168.1.2')).toBe(false);
    const e = await snnRejection(startServer(bundle, { host: '0.0.0.0' }));
    expect(e.code).toBe('OPTION_INVALID');
    expect(e.hint).toContain('--insecure-no-auth');
    // With the flag it goes on, after one warning (here the bundle is missing, so nothing binds).
    const lines: string[] = [];
    const missing = await snnRejection(startServer('/nonexistent/model.snn', { host: '0.0.0.0', insecureNoAuth: true, log: (l) => lines.push(l) }));
    expect(missing.code).not.toBe('OPTION_INVALID');
    expect(lines).toEqual([expect.stringMatching(/^warning: serving 0\.0\.0\.0 without an API key/)]);
  });

  it('refuses a Host that is not a loopback name (DNS rebinding), with 403', async () => {
    const res = await rawRequest(server, { path: '/v1/models', headers: { ...bearer(KEY_A), host: 'attacker.example:8000' } });
    expect(res.status).toBe(403);
    expect((JSON.parse(res.text) as { error: { code: string; param: string } }).error).toMatchObject({ code: 'SERVE_FORBIDDEN', param: 'Host' });
    for (const host of ['localhost:1234', '127.0.0.1', '[::1]:80']) {
      expect((await rawRequest(server, { path: '/v1/models', headers: { ...bearer(KEY_A), host } })).status).toBe(200);
    }
  });

  it('refuses a cross-site page (Origin) with 403 and sends no CORS headers by default', async () => {
    const r = await post(server, '/v1/completions', hello, bearer(KEY_A, { origin: 'https://evil.example' }));
    expect(r.status).toBe(403);
    expect(r.json.error.param).toBe('Origin');
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a body that is not declared JSON with 415 (a form post cannot drive the server)', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', '']) {
      const r = await post(server, '/v1/completions', hello, bearer(KEY_A, { 'content-type': type }));
      expect(r.status).toBe(415);
      expect(r.json.error.code).toBe('SERVE_MEDIA_TYPE');
      expect(r.json.error.message).toContain('application/json');
    }
    expect((await post(server, '/v1/completions', hello, bearer(KEY_A, { 'content-type': 'application/json; charset=utf-8' }))).status).toBe(200);
  });

  it('lets only the listed origin call it when started with corsOrigins', async () => {
    const app = 'https://app.example';
    const s = await startServer(bundle, { corsOrigins: [app] });
    try {
      const pre = await fetch(`${s.url}/v1/completions`, { method: 'OPTIONS', headers: { origin: app, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
      expect(pre.status).toBeLessThan(300);
      expect(pre.headers.get('access-control-allow-origin')).toBe(app);
      const r = await post(s, '/v1/completions', hello, { origin: app });
      expect(r.status).toBe(200);
      expect(r.headers.get('access-control-allow-origin')).toBe(app);
      expect((await post(s, '/v1/completions', hello, { origin: 'https://other.example' })).status).toBe(403);
    } finally {
      await s.close();
    }
  });
});
