// The OpenAI response objects: completions, chat completions, their stream chunks, usage, logprobs and errors.
import { isSnnError, type SnnError } from '../errors/index.js';
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

/** The whole (non-streamed) response. */
export function completionJson(endpoint: Endpoint, head: ResponseHead, pieces: readonly JobPiece[], usage: JobUsage) {
  const text = pieces.map((p) => p.text).join('');
  const finish = pieces[pieces.length - 1]?.finishReason ?? 'length';
  if (endpoint === 'chat') {
    return { ...head, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: chatLogprobs(pieces), finish_reason: finish }], usage: usageJson(usage) };
  }
  return { ...head, object: 'text_completion', choices: [{ index: 0, text, logprobs: completionLogprobs(pieces, 0), finish_reason: finish }], usage: usageJson(usage) };
}

/** The chunk that opens a chat stream (the assistant role, no content yet). */
export function openingChunk(head: ResponseHead) {
  return { ...head, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] };
}

/** One streamed piece; `offset` is the text length sent before it (for completions' text_offset). */
export function pieceChunk(endpoint: Endpoint, head: ResponseHead, piece: JobPiece, offset: number) {
  const finish = piece.finishReason ?? null;
  if (endpoint === 'chat') {
    return { ...head, object: 'chat.completion.chunk', choices: [{ index: 0, delta: piece.text || !finish ? { content: piece.text } : {}, logprobs: chatLogprobs([piece]), finish_reason: finish }] };
  }
  return { ...head, object: 'text_completion', choices: [{ index: 0, text: piece.text, logprobs: completionLogprobs([piece], offset), finish_reason: finish }] };
}

/** The last chunk when `stream_options.include_usage` is set: no choices, the usage. */
export function usageChunk(endpoint: Endpoint, head: ResponseHead, usage: JobUsage) {
  return { ...head, object: endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', choices: [], usage: usageJson(usage) };
}

/** HTTP status of an error: 400 for what the client sent, 404 unknown model, 429 busy, 500 otherwise. */
export function statusOf(e: unknown): 400 | 404 | 429 | 500 {
  if (!isSnnError(e)) return 500;
  switch (e.code) {
    case 'SERVE_QUEUE_FULL': return 429;
    case 'SERVE_MODEL_UNKNOWN': return 404;
    case 'SERVE_REQUEST_INVALID': case 'CONTEXT_OVERFLOW': case 'OPTION_INVALID': case 'INPUT_INVALID': return 400;
    default: return 500;
  }
}

/** The OpenAI error object; `code` is the SnnError code, `param` where, `hint` what to do. */
export function errorJson(e: unknown) {
  const status = statusOf(e);
  const type = status === 429 ? 'rate_limit_error' : status === 500 ? 'server_error' : 'invalid_request_error';
  if (isSnnError(e)) return { error: { message: (e as SnnError).message, type, param: e.at ?? null, code: e.code, hint: e.hint } };
  return { error: { message: `internal error: ${(e as Error)?.message ?? String(e)}`, type, param: null, code: 'INTERNAL', hint: 'this is a bug in snnconvert; report it with the request' } };
}
