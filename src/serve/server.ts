// serve(bundle, opts): loads the model, wires engine, metrics and routes, listens (127.0.0.1 by default), drains on close.
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { SnnError } from '../errors/index.js';
import { Bundle, loadBundle, type RunnableModel } from '../runtime/model.js';
import type { Device } from '../runtime/session.js';
import { TemporalSpikeProcessor, type OverflowPolicy } from '../runtime/tsp.js';
import { Engine } from './engine.js';
import { Metrics } from './metrics.js';
import { buildApp } from './routes.js';
import { isLoopback } from './security.js';
import { SpikeMeter } from './spikes.js';

/** Bytes a request body may hold: far more than any prompt that fits a context. */
const MAX_BODY_BYTES = 1 << 20;

export interface ServeOptions {
  /** Default 8000; 0 picks a free port (see `ServerHandle.port`). */
  readonly port?: number;
  /** Default 127.0.0.1: only this machine can connect unless told otherwise. */
  readonly host?: string;
  readonly device?: Device;
  /** Named sessions held at once (default 64); beyond it the least recently used idle one is evicted. */
  readonly maxSessions?: number;
  /** Requests waiting for a slot (default 64); one more gets 429 with Retry-After. */
  readonly maxQueue?: number;
  /** Requests generated together in one batched step (default 16). */
  readonly maxBatch?: number;
  /** A prompt that does not fit: 400 naming the limit (default), or keep its newest tokens and slide. */
  readonly overflow?: OverflowPolicy;
  /** Tokens a conversation may hold (default: the model's context). */
  readonly maxContextLength?: number;
  /** Run the bundle's source ANN instead of the SNN. */
  readonly ann?: boolean;
  /** Fetch and count spike tensors on one model call in this many (default 8; 0 = never). */
  readonly spikeSampleEvery?: number;
  /** The id in /v1/models (default: the bundle's folder name without `.snn`). */
  readonly modelName?: string;
  /** Bearer keys accepted on /v1/* and /metrics; sessions are scoped to the key. Needed on a non-loopback host. */
  readonly apiKeys?: readonly string[];
  /** Serve a non-loopback host without keys (anyone who reaches the port can use it); a warning is logged. */
  readonly insecureNoAuth?: boolean;
  /** Origins whose web pages may call the server (CORS); default none. */
  readonly corsOrigins?: readonly string[];
  /** Milliseconds a request body may take to arrive (default 10 000; 408 beyond). */
  readonly bodyTimeoutMs?: number;
  /** Where one-line notices go (client disconnects, warnings); default stderr. */
  readonly log?: (line: string) => void;
}

/** A running server. `close()` stops accepting, lets every queued and running request finish, then stops. */
export interface ServerHandle {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly modelId: string;
  /** The device the model runs on (reported on /health). */
  readonly device: Device;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

/**
 * Serves a .snn bundle (a path, or a model already loaded) with an OpenAI-compatible API.
 * @example
 * const server = await serve('shakespeare.snn', { port: 0 });
 * await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: 'Good morrow' }], max_tokens: 40 }) });
 * await server.close();
 */
export async function serve(bundle: string | RunnableModel, opts: ServeOptions = {}): Promise<ServerHandle> {
  const limits = checkLimits(opts);
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const apiKeys = opts.apiKeys ?? [];
  if (!isLoopback(host) && apiKeys.length === 0) {
    if (!opts.insecureNoAuth) throw new SnnError('OPTION_INVALID', { message: `binding ${host} without an API key would let anyone who reaches the port use the server`, at: '--host', hint: 'give --api-key (or --api-key-file, or SNNCONVERT_API_KEYS), or accept the risk with --insecure-no-auth' });
    log(`warning: serving ${host} without an API key (--insecure-no-auth): anyone who can reach this port can use the server and its sessions`);
  }
  const owned = typeof bundle === 'string';
  const model = typeof bundle === 'string' ? await loadBundle(bundle, { device: opts.device ?? 'cpu' }) : bundle;
  try {
    const tsp = new TemporalSpikeProcessor(model, { overflow: opts.overflow ?? 'error', ann: opts.ann ?? model.timesteps === null, ...(opts.maxContextLength ? { maxContextLength: opts.maxContextLength } : {}) });
    const metrics = new Metrics();
    const spikes = new SpikeMeter(opts.spikeSampleEvery ?? 8);
    const detach = !tsp.ann && model instanceof Bundle ? spikes.attach(await model.session(false), model.spikeOutputs) : () => undefined;
    const engine = new Engine(tsp, model.tokenizer, metrics, limits);
    const modelId = opts.modelName ?? basename(model.name).replace(/\.snn$/, '');
    let draining = false;
    const device: Device = opts.device ?? deviceOf(model) ?? 'cpu';
    const app = buildApp({
      engine,
      metrics,
      ctx: { tokenizer: model.tokenizer, vocabSize: tsp.spec.vocabSize, contextLength: tsp.maxContextLength, overflow: tsp.overflow, eos: eosIds(model), modelId, maxChoices: limits.maxBatch },
      access: { apiKeys, corsOrigins: opts.corsOrigins ?? [], host },
      body: { maxBytes: MAX_BODY_BYTES, timeoutMs: limits.bodyTimeoutMs },
      log,
      describe: () => ({ model: modelId, kind: tsp.ann ? 'ANN' : 'SNN', timesteps: model.timesteps, recipe: model.recipe, context: tsp.maxContextLength, overflow: tsp.overflow, device }),
      spikesPerToken: () => spikes.perToken,
      draining: () => draining,
    });
    const server = createAdaptorServer({ fetch: app.fetch, hostname: host }) as Server;
    const port = await listen(server, opts.port ?? 8000, host);
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    let closing: Promise<void> | null = null;
    const close = () => closing ??= (async () => {
      draining = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.drain();
      server.closeIdleConnections();
      // In-flight responses have been written by now; give their sockets a moment, then cut the rest.
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 2000).unref())]);
      server.closeAllConnections();
      detach();
      if (owned) await model.release();
    })();
    return { url, host, port, modelId, device, metrics, close };
  } catch (e) {
    if (owned) await model.release();
    throw e;
  }
}

function checkLimits(opts: ServeOptions) {
  const limit = (name: string, value: number | undefined, fallback: number, min: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min) throw new SnnError('OPTION_INVALID', { message: `${name} must be an integer ≥ ${min}, got ${String(value)}`, at: name });
    return v;
  };
  limit('port', opts.port, 8000, 0);
  if ((opts.port ?? 0) > 65535) throw new SnnError('OPTION_INVALID', { message: `port must be at most 65535, got ${opts.port}`, at: 'port' });
  return { maxSessions: limit('maxSessions', opts.maxSessions, 64, 1), maxQueue: limit('maxQueue', opts.maxQueue, 64, 0), maxBatch: limit('maxBatch', opts.maxBatch, 16, 1), bodyTimeoutMs: limit('bodyTimeoutMs', opts.bodyTimeoutMs, 10_000, 1) };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new SnnError('SERVE_BIND_FAILED', { message: `cannot listen on ${host}:${port}: ${e.code ?? e.message}`, at: `${host}:${port}`, cause: e })));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** The device a loaded model reports (a bundle knows the one it was opened on, `auto` resolved). */
export function deviceOf(model: RunnableModel): Device | null {
  return model.device === 'auto' ? null : model.device;
}

/** The model's end-of-sequence ids (config and tokenizer). */
function eosIds(model: RunnableModel): number[] {
  const fromSpec = model.spec.eosTokenId;
  const ids = fromSpec === null ? [] : typeof fromSpec === 'number' ? [fromSpec] : [...fromSpec];
  const tok = model.tokenizer.eosTokenId;
  if (tok !== null && !ids.includes(tok)) ids.push(tok);
  return ids;
}
