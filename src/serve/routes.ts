// The HTTP surface on hono: access checks, OpenAI completions and chat (JSON or SSE, n choices), models, health, metrics.
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { SnnError } from '../errors/index.js';
import { clientGone, readJsonBody, type BodyLimits } from './body.js';
import { Channel } from './channel.js';
import type { Engine } from './engine.js';
import type { Job, JobPiece, JobUsage } from './job.js';
import type { Metrics } from './metrics.js';
import { completionJson, errorJson, openingChunk, pieceChunk, responseHead, statusOf, usageChunk, type Endpoint } from './openai.js';
import { prepareChat, prepareCompletion, type PreparedRequest, type RequestContext } from './requests.js';
import { chatRequestSchema, completionRequestSchema, parseBody } from './schema.js';
import { accessControl, corsFor, jsonOnly, type AccessPolicy, type ScopeVariables } from './security.js';

export interface RouteDeps {
  readonly engine: Engine;
  readonly metrics: Metrics;
  readonly ctx: RequestContext;
  readonly access: AccessPolicy;
  readonly body: BodyLimits;
  /** What /health reports about the model. */
  readonly describe: () => Record<string, unknown>;
  readonly spikesPerToken: () => number | null;
  readonly draining: () => boolean;
  /** One line per client that went away (default: stderr). */
  readonly log?: (line: string) => void;
}

type Env = { Variables: ScopeVariables };
const MAX_SESSION_ID = 256;
const ROUTES: Readonly<Record<string, 'GET' | 'POST'>> = {
  '/v1/chat/completions': 'POST', '/v1/completions': 'POST', '/v1/models': 'GET', '/v1/models/:id': 'GET', '/health': 'GET', '/metrics': 'GET',
};

export function buildApp(deps: RouteDeps): Hono<Env> {
  const app = new Hono<Env>();
  const log = deps.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  app.use(async (c, next) => {
    await next();
    deps.metrics.countRequest(c.req.routePath === '/*' ? 'other' : c.req.routePath, c.res.status);
  });
  app.use('/v1/*', corsFor(deps.access.corsOrigins));
  for (const path of ['/v1/*', '/metrics']) app.use(path, accessControl(deps.access));
  for (const path of ['/v1/chat/completions', '/v1/completions']) app.use(path, jsonOnly);

  app.post('/v1/chat/completions', (c) => generate(c, 'chat', deps, log));
  app.post('/v1/completions', (c) => generate(c, 'completions', deps, log));
  app.get('/v1/models', (c) => c.json({ object: 'list', data: [modelJson(deps.ctx.modelId)] }));
  app.get('/v1/models/:id', (c) => c.req.param('id') === deps.ctx.modelId
    ? c.json(modelJson(deps.ctx.modelId))
    : fail(c, new SnnError('SERVE_MODEL_UNKNOWN', { message: `model ${JSON.stringify(c.req.param('id'))} is not served here (served: ${JSON.stringify(deps.ctx.modelId)})`, at: 'model' })));
  app.get('/health', (c) => c.json({
    status: deps.draining() ? 'draining' : 'ok',
    ...deps.describe(),
    sessions: deps.engine.sessions.size,
    queue: deps.engine.queueDepth,
    active: deps.engine.activeCount,
  }, deps.draining() ? 503 : 200));
  app.get('/metrics', (c) => c.text(deps.metrics.render({
    queueDepth: deps.engine.queueDepth,
    activeRequests: deps.engine.activeCount,
    sessionsHeld: deps.engine.sessions.size,
    sessionEvictions: deps.engine.sessions.evictions,
    spikesPerToken: deps.spikesPerToken(),
  }), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }));
  // A known route with another method: 405 naming the one it takes.
  for (const [path, method] of Object.entries(ROUTES)) {
    app.all(path, (c) => {
      c.header('Allow', method);
      return fail(c, new SnnError('SERVE_METHOD_NOT_ALLOWED', { message: `${c.req.method} ${c.req.path} is not served (allowed: ${method})`, at: c.req.path }));
    });
  }
  app.notFound((c) => fail(c, new SnnError('SERVE_ROUTE_UNKNOWN', { message: `no route ${c.req.method} ${c.req.path} (routes: ${Object.entries(ROUTES).map(([p, m]) => `${m} ${p}`).join(', ')})`, at: c.req.path })));
  app.onError((e, c) => {
    if (statusOf(e) === 499) {
      deps.metrics.countDisconnect('upload');
      log(`client went away: ${c.req.method} ${c.req.path} during the upload`);
    }
    return fail(c, e);
  });
  return app;
}

/** Both generation endpoints: parse, prepare, queue n jobs (429 when full), then answer as JSON or as SSE. */
async function generate(c: Context<Env>, endpoint: Endpoint, deps: RouteDeps, log: (line: string) => void): Promise<Response> {
  const body = await readJsonBody(c.req.raw, deps.body);
  const sessionId = sessionIdOf(c.req.header('x-session-id'));
  const prepared: PreparedRequest = endpoint === 'chat'
    ? prepareChat(parseBody(chatRequestSchema, body, 'chat completions'), deps.ctx)
    : prepareCompletion(parseBody(completionRequestSchema, body, 'completions'), deps.ctx);
  const b = body as Record<string, unknown>;
  const stream = b['stream'] === true;
  const includeUsage = stream && (b['stream_options'] as { include_usage?: unknown } | null | undefined)?.include_usage === true;
  // Our own controller: the client's disconnect (request signal, or the stream's abort) cancels every choice.
  // A disconnect before the answer is complete is logged once and counted apart from errors.
  let finished = false;
  const abort = new AbortController();
  abort.signal.addEventListener('abort', () => {
    if (finished) return;
    const phase = stream ? 'stream' : 'generate';
    deps.metrics.countDisconnect(phase);
    log(`client went away: ${c.req.method} ${c.req.path} during the ${phase}`);
  }, { once: true });
  c.req.raw.signal.addEventListener('abort', () => abort.abort(), { once: true });
  let jobs: Job[];
  try {
    jobs = submitChoices(deps.engine, prepared, sessionId === null ? null : `${c.get('scope')}/${sessionId}`, abort.signal);
  } catch (e) {
    finished = true;
    abort.abort(); // the choices already queued are dropped with the refusal
    if (statusOf(e) === 429) c.header('Retry-After', String(deps.engine.retryAfterSeconds()));
    throw e;
  }
  const head = responseHead(endpoint, deps.ctx.modelId);
  if (sessionId !== null) c.header('X-Session-Id', sessionId);
  const pieces = merged(jobs);
  const done = () => {
    deps.metrics.promptTokens += prepared.prompt.length;
    finished ||= !abort.signal.aborted; // answered (or failed with an error sent): a later close is no disconnect
  };
  if (!stream) {
    const all: JobPiece[] = [];
    try {
      for await (const piece of pieces) all.push(piece);
    } finally {
      done();
    }
    if (abort.signal.aborted) return fail(c, clientGone('generate'));
    finished = true;
    return c.json(completionJson(endpoint, head, all, jobs.length, usageOf(jobs)));
  }
  return streamSSE(c, async (sse) => {
    sse.onAbort(() => abort.abort());
    try {
      if (endpoint === 'chat') for (const job of jobs) await sse.writeSSE({ data: JSON.stringify(openingChunk(head, job.index)) });
      const offsets = jobs.map(() => 0);
      for await (const piece of pieces) {
        if (piece.text === '' && !piece.finishReason && !piece.logprob) continue;
        await sse.writeSSE({ data: JSON.stringify(pieceChunk(endpoint, head, piece, offsets[piece.index]!)) });
        offsets[piece.index]! += piece.text.length;
      }
      if (abort.signal.aborted) return;
      finished = true;
      if (includeUsage) await sse.writeSSE({ data: JSON.stringify(usageChunk(endpoint, head, usageOf(jobs))) });
      await sse.writeSSE({ data: '[DONE]' });
    } catch (e) {
      if (abort.signal.aborted) return;
      if (statusOf(e) === 500 && !(e instanceof SnnError)) console.error(e);
      await sse.writeSSE({ data: JSON.stringify(errorJson(e)) });
    } finally {
      done();
    }
  }, async () => { abort.abort(); });
}

/** Queues one job per choice; choice 0 continues the session, the others run in private conversations. */
function submitChoices(engine: Engine, prepared: PreparedRequest, session: string | null, signal: AbortSignal): Job[] {
  const { n, ...request } = prepared;
  return Array.from({ length: n }, (_, i) => engine.submit({ ...request, seed: prepared.seed + i, sessionId: i === 0 ? session : null, signal }, i));
}

/** The pieces of every choice, as they come; fails as soon as one choice fails. */
function merged(jobs: readonly Job[]): Channel<JobPiece> {
  if (jobs.length === 1) return jobs[0]!.pieces;
  const out = new Channel<JobPiece>();
  let open = jobs.length;
  for (const job of jobs) {
    void (async () => {
      try {
        for await (const piece of job.pieces) out.push(piece);
        if (--open === 0) out.end();
      } catch (e) {
        out.fail(e);
      }
    })();
  }
  return out;
}

/** Usage over all choices: the prompt counted once, every choice's tokens, the session's cached prefix. */
function usageOf(jobs: readonly Job[]): JobUsage {
  return { promptTokens: jobs[0]!.usage.promptTokens, completionTokens: jobs.reduce((s, j) => s + j.usage.completionTokens, 0), cachedTokens: jobs[0]!.usage.cachedTokens };
}

/** The session named by `X-Session-Id` (the `user` field never names one: apps fill it with end-user ids). */
function sessionIdOf(header: string | undefined): string | null {
  if (header === undefined) return null;
  if (header.length === 0 || header.length > MAX_SESSION_ID) {
    throw new SnnError('SERVE_REQUEST_INVALID', { message: `X-Session-Id must have 1 to ${MAX_SESSION_ID} characters, got ${header.length}`, at: 'X-Session-Id' });
  }
  return header;
}

function modelJson(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'snnconvert' };
}

function fail(c: Context, e: unknown): Response {
  const status = statusOf(e);
  if (status === 500 && !(e instanceof SnnError)) console.error(e);
  // A refused body may still be arriving: close the connection rather than read the rest.
  if (status === 408 || status === 413) c.header('Connection', 'close');
  return c.json(errorJson(e), status as 400);
}
