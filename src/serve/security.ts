// Who may call the server: API keys (Bearer, constant-time), Host checks on loopback binds, Origin checks, opt-in CORS.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { SnnError } from '../errors/index.js';

export interface AccessPolicy {
  /** Accepted API keys; empty: no key needed (only allowed on loopback unless `insecureNoAuth`). */
  readonly apiKeys: readonly string[];
  /** Origins whose web pages may call the server (CORS); empty: no browser page may. */
  readonly corsOrigins: readonly string[];
  /** The address the server is bound to: on loopback, Host must name a loopback address too. */
  readonly host: string;
}

/** The key scope a request runs in (sessions live inside it), set by `accessControl`. */
export type ScopeVariables = { scope: string };

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** The host name of a Host header, without its port ("[::1]:8000" → "[::1]", "localhost:80" → "localhost"). */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * The access middleware for `/v1/*` and `/metrics`: Origin (any bind), Host (loopback binds, against
 * DNS rebinding), then the Bearer key. Keys are compared as SHA-256 digests with timingSafeEqual,
 * every key every time, so timing says nothing about a key. The matched key's index is the request's
 * scope: sessions of one key are invisible to every other key.
 */
export function accessControl(policy: AccessPolicy): MiddlewareHandler<{ Variables: ScopeVariables }> {
  const keys = policy.apiKeys.map(digest);
  const allowedOrigins = new Set(policy.corsOrigins);
  const loopback = isLoopback(policy.host);
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      throw new SnnError('SERVE_FORBIDDEN', { message: `requests from web pages at ${JSON.stringify(origin)} are not accepted (allowed origins: ${policy.corsOrigins.length ? policy.corsOrigins.join(', ') : 'none; start the server with --cors-origin ORIGIN'})`, at: 'Origin' });
    }
    const host = c.req.header('host');
    if (loopback && (host === undefined || !LOOPBACK_NAMES.has(hostName(host)))) {
      throw new SnnError('SERVE_FORBIDDEN', { message: `Host ${JSON.stringify(host ?? '')} is not this loopback server (valid: localhost, 127.0.0.1, [::1], with any port)`, at: 'Host' });
    }
    if (keys.length > 0) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
      const given = digest(m?.[1] ?? '');
      let match = -1;
      for (const [i, key] of keys.entries()) if (timingSafeEqual(key, given) && match < 0) match = i;
      if (match < 0) {
        c.header('WWW-Authenticate', 'Bearer');
        throw new SnnError('SERVE_UNAUTHORIZED', { message: m ? 'the API key in Authorization is not one this server accepts' : 'no API key: send Authorization: Bearer <key>', at: 'Authorization' });
      }
      c.set('scope', `key${match}`);
    } else {
      c.set('scope', 'open');
    }
    await next();
  };
}

/** CORS for the listed origins only (preflight included); nothing at all when none is listed. */
export function corsFor(origins: readonly string[]): MiddlewareHandler {
  if (origins.length === 0) return async (_c, next) => { await next(); };
  return cors({ origin: [...origins], allowMethods: ['GET', 'POST', 'OPTIONS'], allowHeaders: ['Authorization', 'Content-Type', 'X-Session-Id'], exposeHeaders: ['X-Session-Id', 'Retry-After'], maxAge: 600 });
}

/** JSON bodies only: a POST whose Content-Type is not application/json gets 415 (a form post from a page cannot pass). */
export const jsonOnly: MiddlewareHandler = async (c, next) => {
  if (c.req.method === 'POST') {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new SnnError('SERVE_MEDIA_TYPE', { message: `Content-Type ${JSON.stringify(type || '(none)')} is not accepted (valid: application/json)`, at: 'Content-Type' });
    }
  }
  await next();
};

/** The keys a server accepts, from --api-key values, a file (one key a line, # comments) and SNNCONVERT_API_KEYS (comma-separated). */
export function collectKeys(flags: readonly string[], fileText: string | null, env: string | undefined): string[] {
  const fromFile = (fileText ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const fromEnv = (env ?? '').split(',').map((k) => k.trim()).filter((k) => k !== '');
  const keys = [...flags, ...fromFile, ...fromEnv];
  const bad = keys.find((k) => !/^\S{8,}$/.test(k));
  if (bad !== undefined) throw new SnnError('OPTION_INVALID', { message: `an API key must be at least 8 characters without spaces (one is ${bad.length} characters)`, at: '--api-key' });
  return [...new Set(keys)];
}
