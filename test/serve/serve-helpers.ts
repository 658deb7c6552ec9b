// Shared by the serve tests: one small spiking bundle, a server on an ephemeral port, and an official OpenAI client.
import { request } from 'node:http';
import { join } from 'node:path';
import OpenAI from 'openai';
import { convert } from '../../src/convert.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { serve, type ServeOptions, type ServerHandle } from '../../src/serve/server.js';
import { GPT2_DIR, tempDir } from '../helpers.js';

/** The Shakespeare GPT-2 as a faithful SNN at T=4 with a small calibration: seconds to build, same code paths as T=16. */
export async function buildBundle(): Promise<string> {
  const { bundlePath } = await convert(GPT2_DIR, { calibration: { samples: 8, length: 64 }, timesteps: 4, recipe: 'faithful', out: join(tempDir('snn-serve-'), 'shk.snn') });
  return bundlePath;
}

export async function openBundle(path: string): Promise<Bundle> {
  return loadBundle(path);
}

/** A server on 127.0.0.1 with an ephemeral port. */
export async function startServer(model: string | Bundle, opts: ServeOptions = {}): Promise<ServerHandle> {
  return serve(model, { port: 0, ...opts });
}

/** The official client, without retries (a 429 must reach the test). */
export function client(server: ServerHandle, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: headers });
}

/** POSTs a JSON (or raw) body and returns status, headers and parsed JSON. */
export async function post(server: ServerHandle, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  let json: unknown = null;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, headers: res.headers, json };
}

/** A request through node:http, which sends the headers as given (fetch overrides Host). */
export function rawRequest(server: ServerHandle, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: server.host, port: server.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
