// The HTTP surface on hono: OpenAI completions and chat (JSON or SSE), models, health and Prometheus metrics.
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { SnnError } from '../errors/index.js';
import type { Engine } from './engine.js';
import type { Job, JobPiece } from './job.js';
import type { Metrics } from './metrics.js';
import { completionJson, errorJson, openingChunk, pieceChunk, responseHead, statusOf, usageChunk, type Endpoint } from './openai.js';
import { prepareChat, prepareCompletion, sessionIdOf, type PreparedRequest, type RequestContext } from './requests.js';
import { chatRequestSchema, completionRequestSchema, parseBody } from './schema.js';

export interface RouteDeps {
  readonly engine: Engine;
  readonly metrics: Metrics;
  readonly ctx: RequestContext;
  /** What /health reports about the model. */
  readonly describe: () => Record<string, unknown>;
  readonly spikesPerToken: () => number | null;
  readonly draining: () => boolean;
}

const MAX_BODY_BYTES = 1 << 20;

export function buildApp(deps: RouteDeps): Hono {
  const app = new Hono();
  app.use(async (c, next) => {
    await next();
    const endpoint = c.req.routePath === '/*' ? 'other' : c.req.routePath;
    deps.metrics.countRequest(endpoint, c.res.status);
  });
  app.use('/v1/*', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json(errorJson(invalid(`the body exceeds ${MAX_BODY_BYTES} bytes`, 'body')), 413) }));

  app.post('/v1/chat/completions', (c) => generate(c, 'chat', deps));
  app.post('/v1/completions', (c) => generate(c, 'completions', deps));
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
  app.notFound((c) => c.json(errorJson(invalid(`no route ${c.req.method} ${c.req.path} (routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics)`, c.req.path)), 404));
  app.onError((e, c) => fail(c, e));
  return app;
}

/** Both generation endpoints: parse, prepare, queue (429 when full), then answer as JSON or as SSE. */
async function generate(c: Context, endpoint: Endpoint, deps: RouteDeps): Promise<Response> {
  const body = await readJson(c);
  const sessionId = sessionIdOf(c.req.header('x-session-id'), isRecord(body) && typeof body['user'] === 'string' ? body['user'] : null);
  const prepared: PreparedRequest = endpoint === 'chat'
    ? prepareChat(parseBody(chatRequestSchema, body, '/v1/chat/completions'), sessionId, deps.ctx)
    : prepareCompletion(parseBody(completionRequestSchema, body, '/v1/completions'), sessionId, deps.ctx);
  const stream = isRecord(body) && body['stream'] === true;
  const includeUsage = isRecord(body) && isRecord(body['stream_options']) && body['stream_options']['include_usage'] === true;
  // Our own controller: the client's disconnect (request signal, or the stream's abort) cancels the job.
  const abort = new AbortController();
  c.req.raw.signal.addEventListener('abort', () => abort.abort(), { once: true });
  let job: Job;
  try {
    job = deps.engine.submit({ ...prepared, signal: abort.signal });
  } catch (e) {
    if (statusOf(e) === 429) c.header('Retry-After', String(deps.engine.retryAfterSeconds()));
    throw e;
  }
  const head = responseHead(endpoint, deps.ctx.modelId);
  if (sessionId !== null) c.header('X-Session-Id', sessionId);
  const done = () => { deps.metrics.promptTokens += job.request.prompt.length; };
  if (!stream) {
    const pieces: JobPiece[] = [];
    try {
      for await (const piece of job.pieces) pieces.push(piece);
    } finally {
      done();
    }
    return c.json(completionJson(endpoint, head, pieces, job.usage));
  }
  return streamSSE(c, async (sse) => {
    sse.onAbort(() => abort.abort());
    try {
      if (endpoint === 'chat') await sse.writeSSE({ data: JSON.stringify(openingChunk(head)) });
      let offset = 0;
      for await (const piece of job.pieces) {
        if (piece.text === '' && !piece.finishReason && !piece.logprob) continue;
        await sse.writeSSE({ data: JSON.stringify(pieceChunk(endpoint, head, piece, offset)) });
        offset += piece.text.length;
      }
      if (abort.signal.aborted) return;
      if (includeUsage) await sse.writeSSE({ data: JSON.stringify(usageChunk(endpoint, head, job.usage)) });
      await sse.writeSSE({ data: '[DONE]' });
    } catch (e) {
      await sse.writeSSE({ data: JSON.stringify(errorJson(e)) });
    } finally {
      done();
    }
  });
}

/** Parses the body as JSON whatever its content type (curl -d sends form-encoded headers). */
async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw invalid(`the body is not valid JSON: ${(e as Error).message}`, 'body');
  }
}

function modelJson(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'snnconvert' };
}

function fail(c: Context, e: unknown): Response {
  const status = statusOf(e);
  if (status === 500 && !(e instanceof SnnError)) console.error(e);
  return c.json(errorJson(e), status);
}

function invalid(message: string, at: string): SnnError {
  return new SnnError('SERVE_REQUEST_INVALID', { message, at });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
