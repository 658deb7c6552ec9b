// The request bodies the server accepts: every field of the OpenAI chat and completions APIs, shape-checked once with zod.
import { z } from 'zod';
import { SnnError } from '../errors/index.js';

/** OpenAI's limit on stop sequences. */
export const MAX_STOP = 4;

const opt = <T extends z.ZodType>(t: T) => t.nullable().optional();

/** A number in [min, max] (a whole one with `int`), with one message that names the range. */
function numberIn(min: number, max: number, int = false, above = false) {
  const message = `must be ${int ? 'a whole number' : 'a number'} ${above ? `above ${min}` : `from ${min}`} to ${max}`;
  let s = z.number({ error: message });
  if (int) s = s.int({ error: message });
  return (above ? s.gt(min, { error: message }) : s.min(min, { error: message })).max(max, { error: message });
}
const positiveInt = () => z.number({ error: 'must be a whole number ≥ 1' }).int({ error: 'must be a whole number ≥ 1' }).min(1, { error: 'must be a whole number ≥ 1' });

/** `stop`: a string or up to four, each non-empty; always a list after parsing. */
const stop = z.unknown().transform((v, ctx): string[] => {
  if (v === null || v === undefined) return [];
  const list: unknown[] | null = typeof v === 'string' ? [v] : Array.isArray(v) ? v : null;
  const fail = (message: string) => { ctx.addIssue({ code: 'custom', message }); return z.NEVER; };
  if (list === null) return fail(`must be a string or a list of at most ${MAX_STOP} strings`);
  if (list.length > MAX_STOP) return fail(`at most ${MAX_STOP} sequences, got ${list.length}`);
  if (!list.every((s): s is string => typeof s === 'string' && s.length > 0)) return fail('each stop sequence must be a non-empty string');
  return list;
}).optional();

/** Fields both endpoints share. Fields we only accept are kept to be checked for neutral values in requests.ts. */
const shared = {
  model: opt(z.string({ error: 'must be a string' })),
  max_tokens: opt(positiveInt()),
  temperature: opt(numberIn(0, 2)),
  top_p: opt(numberIn(0, 1, false, true)),
  seed: opt(z.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' })),
  stop,
  n: opt(numberIn(1, 128, true)),
  presence_penalty: opt(numberIn(-2, 2)),
  frequency_penalty: opt(numberIn(-2, 2)),
  logit_bias: opt(z.record(z.string(), numberIn(-100, 100), { error: 'must be an object mapping token ids to numbers from -100 to 100' })),
  stream: opt(z.boolean({ error: 'must be true or false' })),
  stream_options: opt(z.strictObject({ include_usage: opt(z.boolean()), include_obfuscation: opt(z.boolean()) })),
  user: opt(z.string({ error: 'must be a string' })),
};

/** A message as clients send it, and as this server returns it (`refusal: null`, `annotations`, …). */
const message = z.strictObject({
  role: z.string({ error: 'must be a string (system, developer, user or assistant)' }),
  content: z.unknown().optional(),
  name: opt(z.string()),
  refusal: opt(z.string()),
  tool_calls: opt(z.array(z.unknown())),
  tool_call_id: opt(z.string()),
  function_call: opt(z.unknown()),
  audio: opt(z.unknown()),
  annotations: opt(z.array(z.unknown())),
  /** Set by the official client's stream and parse helpers on the message they assemble. */
  parsed: opt(z.unknown()),
});

export const chatRequestSchema = z.strictObject({
  ...shared,
  messages: z.array(message, { error: 'must be a list of messages' }).min(1, { error: 'must hold at least one message' }),
  max_completion_tokens: opt(positiveInt()),
  logprobs: opt(z.boolean({ error: 'must be true or false' })),
  top_logprobs: opt(numberIn(0, 20, true)),
  response_format: opt(z.looseObject({ type: z.string({ error: 'must be a string (text)' }) })),
  tools: opt(z.array(z.unknown(), { error: 'must be a list' })),
  tool_choice: opt(z.unknown()),
  parallel_tool_calls: opt(z.boolean({ error: 'must be true or false' })),
  functions: opt(z.array(z.unknown(), { error: 'must be a list' })),
  function_call: opt(z.unknown()),
  audio: opt(z.unknown()),
  modalities: opt(z.array(z.string(), { error: 'must be a list of strings (text)' })),
  prediction: opt(z.unknown()),
  reasoning_effort: opt(z.string({ error: 'must be a string' })),
  verbosity: opt(z.string({ error: 'must be a string' })),
  web_search_options: opt(z.unknown()),
  moderation: opt(z.unknown()),
  metadata: opt(z.record(z.string(), z.string(), { error: 'must be an object of strings' })),
  store: opt(z.boolean({ error: 'must be true or false' })),
  service_tier: opt(z.string({ error: 'must be a string' })),
  prompt_cache_key: opt(z.string({ error: 'must be a string' })),
  prompt_cache_retention: opt(z.string({ error: 'must be a string' })),
  prompt_cache_options: opt(z.unknown()),
  safety_identifier: opt(z.string({ error: 'must be a string' })),
});

export const completionRequestSchema = z.strictObject({
  ...shared,
  prompt: z.unknown().optional(),
  logprobs: opt(numberIn(0, 5, true)),
  best_of: opt(numberIn(1, 128, true)),
  echo: opt(z.boolean({ error: 'must be true or false' })),
  suffix: opt(z.string({ error: 'must be a string' })),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;
export type ChatMessageBody = ChatRequest['messages'][number];

/** Parses a body against a schema; every problem is listed in one SERVE_REQUEST_INVALID error naming the first field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, endpoint: string): z.infer<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SnnError('SERVE_REQUEST_INVALID', { message: `the body must be a JSON object (the ${endpoint} request), got ${Array.isArray(body) ? 'a list' : body === null ? 'null' : typeof body}`, at: 'body' });
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
    if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} in ${where} (not a field of the OpenAI ${endpoint} API)`;
    return `${where}: ${issue.message}`;
  });
  const first = result.error.issues[0]!;
  const field = first.code === 'unrecognized_keys' ? [...first.path, first.keys[0]!].join('.') : first.path.join('.');
  throw new SnnError('SERVE_REQUEST_INVALID', { message: problems.join('; '), at: field || endpoint });
}
