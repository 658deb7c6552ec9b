// The malformed-input corpus of the HTTP server: bodies, types, encodings and methods, each with the refusal it must get.

export interface HttpCase {
  readonly id: string;
  readonly what: string;
  readonly method?: string;
  readonly path: string;
  readonly contentType?: string;
  readonly body?: string | Buffer;
  readonly status: number;
  readonly code: string;
  /** Words the message must hold (the field and the allowed values). */
  readonly says: readonly string[];
  /** The error's `param`. */
  readonly param?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const CHAT = '/v1/chat/completions';
const COMP = '/v1/completions';
const msg = [{ role: 'user', content: 'Hi' }];
const json = (v: unknown) => JSON.stringify(v);

export const HTTP_CASES: readonly HttpCase[] = [
  { id: 'json-truncated', what: 'truncated JSON', path: CHAT, body: '{"messages": [', status: 400, code: 'SERVE_BODY_MALFORMED', says: ['not valid JSON'] },
  { id: 'json-empty', what: 'an empty body', path: CHAT, body: '', status: 400, code: 'SERVE_BODY_MALFORMED', says: ['not valid JSON'] },
  { id: 'json-not-object', what: 'a JSON list', path: CHAT, body: '[1,2]', status: 400, code: 'SERVE_REQUEST_INVALID', says: ['JSON object', 'a list'] },
  { id: 'json-string', what: 'a JSON string', path: COMP, body: '"KING:"', status: 400, code: 'SERVE_REQUEST_INVALID', says: ['JSON object'] },
  { id: 'utf8-invalid', what: 'invalid UTF-8 in a string', path: COMP, body: Buffer.concat([Buffer.from('{"prompt": "KI'), Buffer.from([0xff, 0xfe]), Buffer.from('NG"}')]), status: 400, code: 'SERVE_BODY_MALFORMED', says: ['not valid UTF-8', 'offset 14'] },
  { id: 'utf8-overlong', what: 'an overlong UTF-8 encoding', path: COMP, body: Buffer.concat([Buffer.from('{"prompt": "'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), status: 400, code: 'SERVE_BODY_MALFORMED', says: ['not valid UTF-8'] },
  { id: 'oversized', what: 'a 2 MiB body', path: COMP, body: json({ prompt: 'x'.repeat(2 << 20) }), status: 413, code: 'SERVE_BODY_TOO_LARGE', says: ['1048576 bytes'] },
  { id: 'type-messages', what: 'messages as a string', path: CHAT, body: json({ messages: 'hi' }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['messages: must be a list of messages'], param: 'messages' },
  { id: 'type-content', what: 'a number as content', path: CHAT, body: json({ messages: [{ role: 'user', content: 7 }] }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['messages.0.content', 'text parts'], param: 'messages.0.content' },
  { id: 'type-role', what: 'a number as role', path: CHAT, body: json({ messages: [{ role: 1, content: 'x' }] }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['messages.0.role', 'system, developer, user or assistant'] },
  { id: 'type-temperature', what: 'temperature as a string', path: CHAT, body: json({ messages: msg, temperature: 'hot' }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['temperature: must be a number from 0 to 2'], param: 'temperature' },
  { id: 'range-top-p', what: 'top_p of 0', path: CHAT, body: json({ messages: msg, top_p: 0 }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['top_p: must be a number above 0 to 1'] },
  { id: 'float-max-tokens', what: 'a fractional max_tokens', path: COMP, body: json({ prompt: 'x', max_tokens: 2.5 }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['max_tokens: must be a whole number ≥ 1'] },
  { id: 'float-token-id', what: 'a float token id', path: COMP, body: json({ prompt: [75, 1.5] }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['prompt.1: token ids must be whole numbers, got 1.5'], param: 'prompt.1' },
  { id: 'token-id-range', what: 'a token id beyond the vocabulary', path: COMP, body: json({ prompt: [[75, 9999]] }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['9999', 'outside the vocabulary (0 to 256)'], param: 'prompt.0.1' },
  { id: 'prompt-missing', what: 'no prompt', path: COMP, body: json({ max_tokens: 2 }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['prompt: required'] },
  { id: 'prompts-many', what: 'three prompts in one request', path: COMP, body: json({ prompt: ['a', 'b', 'c'] }), status: 400, code: 'SERVE_FIELD_UNSUPPORTED', says: ['one prompt per request, got 3'] },
  { id: 'stop-five', what: 'five stop sequences', path: COMP, body: json({ prompt: 'x', stop: ['a', 'b', 'c', 'd', 'e'] }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['stop: at most 4 sequences, got 5'], param: 'stop' },
  { id: 'stop-empty', what: 'an empty stop sequence', path: COMP, body: json({ prompt: 'x', stop: [''] }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['stop: each stop sequence must be a non-empty string'] },
  { id: 'bias-key', what: 'a logit_bias key that is no token id', path: COMP, body: json({ prompt: 'x', logit_bias: { '1.5': 3 } }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['logit_bias: key "1.5"', 'whole numbers 0 to 256'] },
  { id: 'bias-range', what: 'a logit_bias beyond ±100', path: COMP, body: json({ prompt: 'x', logit_bias: { 65: 101 } }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['logit_bias.65: must be a number from -100 to 100'] },
  { id: 'penalty-range', what: 'a presence_penalty of 3', path: CHAT, body: json({ messages: msg, presence_penalty: 3 }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['presence_penalty: must be a number from -2 to 2'] },
  { id: 'unknown-field', what: 'a field of no OpenAI API', path: CHAT, body: json({ messages: msg, temprature: 0 }), status: 400, code: 'SERVE_REQUEST_INVALID', says: ['unknown field "temprature"'], param: 'temprature' },
  { id: 'session-long', what: 'a 300-character session id', path: COMP, body: json({ prompt: 'x' }), headers: { 'x-session-id': 's'.repeat(300) }, status: 400, code: 'SERVE_REQUEST_INVALID', says: ['X-Session-Id must have 1 to 256 characters'] },
  { id: 'content-type', what: 'a text/plain body', path: CHAT, contentType: 'text/plain', body: json({ messages: msg }), status: 415, code: 'SERVE_MEDIA_TYPE', says: ['text/plain', 'application/json'] },
  { id: 'get-on-post', what: 'GET on a POST route', method: 'GET', path: CHAT, status: 405, code: 'SERVE_METHOD_NOT_ALLOWED', says: ['allowed: POST'] },
  { id: 'post-on-get', what: 'POST on a GET route', method: 'POST', path: '/v1/models', body: '{}', status: 405, code: 'SERVE_METHOD_NOT_ALLOWED', says: ['allowed: GET'] },
  { id: 'no-route', what: 'an unknown route', method: 'POST', path: '/v1/embeddings', body: '{}', status: 404, code: 'SERVE_ROUTE_UNKNOWN', says: ['/v1/embeddings', 'POST /v1/chat/completions'] },
];
