// The OpenAI response objects: completions, chat completions, their stream chunks, usage, logprobs and errors.
import { isSnnError, type ErrorCode, type SnnError } from '../errors/index.js';
import type { JobPiece, JobUsage } from './job.js';

export type Endpoint = 'chat' | 'completions';

/** What every response of one request shares. */
export interface ResponseHead {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

let counter = 0;

export function responseHead(endpoint: Endpoint, model: string): ResponseHead {
  const id = `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${Date.now().toString(36)}${(counter++).toString(36)}`;
  return { id, created: Math.floor(Date.now() / 1000), model };
}

export function usageJson(u: JobUsage) {
  return { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens, prompt_tokens_details: { cached_tokens: u.cachedTokens } };
}

/** Chat logprobs (`choices[].logprobs.content`) of the given pieces. */
function chatLogprobs(pieces: readonly JobPiece[]) {
  if (!pieces.some((p) => p.logprob)) return null;
  return {
    content: pieces.filter((p) => p.logprob).map((p) => ({
      token: p.logprob!.token,
      logprob: p.logprob!.logprob,
      bytes: [...Buffer.from(p.logprob!.token, 'utf8')],
      top_logprobs: p.logprob!.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token, 'utf8')] })),
    })),
  };
}

/** Legacy completions logprobs (`tokens`, `token_logprobs`, `top_logprobs`, `text_offset`). */
function completionLogprobs(pieces: readonly JobPiece[], offset: number) {
  if (!pieces.some((p) => p.logprob)) return null;
  const withLp = pieces.filter((p) => p.logprob);
  const textOffset: number[] = [];
  let at = offset;
  for (const p of withLp) { textOffset.push(at); at += p.logprob!.token.length; }
  return {
    tokens: withLp.map((p) => p.logprob!.token),
    token_logprobs: withLp.map((p) => p.logprob!.logprob),
    top_logprobs: withLp.map((p) => Object.fromEntries(p.logprob!.top.map((t) => [t.token, t.logprob]))),
    text_offset: textOffset,
  };
}

/** The whole (non-streamed) response: one choice per index, in order. */
export function completionJson(endpoint: Endpoint, head: ResponseHead, pieces: readonly JobPiece[], choices: number, usage: JobUsage) {
  const byChoice = Array.from({ length: choices }, (_, i) => pieces.filter((p) => p.index === i));
  if (endpoint === 'chat') {
    return {
      ...head,
      object: 'chat.completion',
      choices: byChoice.map((ps, index) => ({ index, message: { role: 'assistant', content: ps.map((p) => p.text).join(''), refusal: null }, logprobs: chatLogprobs(ps), finish_reason: ps[ps.length - 1]?.finishReason ?? 'length' })),
      usage: usageJson(usage),
    };
  }
  return {
    ...head,
    object: 'text_completion',
    choices: byChoice.map((ps, index) => ({ index, text: ps.map((p) => p.text).join(''), logprobs: completionLogprobs(ps, 0), finish_reason: ps[ps.length - 1]?.finishReason ?? 'length' })),
    usage: usageJson(usage),
  };
}

/** The chunk that opens a chat stream (the assistant role, no content yet). */
export function openingChunk(head: ResponseHead, index: number) {
  return { ...head, object: 'chat.completion.chunk', choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] };
}

/** One streamed piece; `offset` is the text length sent before it (for completions' text_offset). */
export function pieceChunk(endpoint: Endpoint, head: ResponseHead, piece: JobPiece, offset: number) {
  const finish = piece.finishReason ?? null;
  if (endpoint === 'chat') {
    return { ...head, object: 'chat.completion.chunk', choices: [{ index: piece.index, delta: piece.text || !finish ? { content: piece.text } : {}, logprobs: chatLogprobs([piece]), finish_reason: finish }] };
  }
  return { ...head, object: 'text_completion', choices: [{ index: piece.index, text: piece.text, logprobs: completionLogprobs([piece], offset), finish_reason: finish }] };
}

/** The last chunk when `stream_options.include_usage` is set: no choices, the usage. */
export function usageChunk(endpoint: Endpoint, head: ResponseHead, usage: JobUsage) {
  return { ...head, object: endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', choices: [], usage: usageJson(usage) };
}

/** HTTP status of each typed code a request can meet; any other error is a 500. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  SERVE_REQUEST_INVALID: 400, SERVE_FIELD_UNSUPPORTED: 400, SERVE_BODY_MALFORMED: 400, CONTEXT_OVERFLOW: 400, OPTION_INVALID: 400, INPUT_INVALID: 400,
  SERVE_UNAUTHORIZED: 401, SERVE_FORBIDDEN: 403, SERVE_MODEL_UNKNOWN: 404, SERVE_ROUTE_UNKNOWN: 404, SERVE_METHOD_NOT_ALLOWED: 405,
  SERVE_BODY_TIMEOUT: 408, SERVE_BODY_TOO_LARGE: 413, SERVE_MEDIA_TYPE: 415, SERVE_QUEUE_FULL: 429,
  // Nobody reads it (the client is gone); nginx's "client closed request" keeps it apart from 5xx in the metrics.
  SERVE_CLIENT_GONE: 499,
};

export function statusOf(e: unknown): number {
  return isSnnError(e) ? STATUS[e.code] ?? 500 : 500;
}

function errorType(status: number): string {
  switch (status) {
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 429: return 'rate_limit_error';
    case 500: return 'server_error';
    default: return 'invalid_request_error';
  }
}

/** The OpenAI error object; `code` is the SnnError code, `param` where, `hint` what to do. */
export function errorJson(e: unknown) {
  const type = errorType(statusOf(e));
  if (isSnnError(e)) return { error: { message: (e as SnnError).message, type, param: e.at ?? null, code: e.code, hint: e.hint } };
  return { error: { message: `internal error (logged on the server)`, type, param: null, code: 'INTERNAL', hint: 'this is a bug in snnconvert; report it with the request' } };
}
