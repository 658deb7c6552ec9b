// The request bodies the server accepts (the OpenAI wire format, supported fields only), validated once with zod.
import { z } from 'zod';
import { SnnError } from '../errors/index.js';

const nullable = <T extends z.ZodType>(t: T) => t.nullable().optional();

const sampling = {
  model: nullable(z.string()),
  max_tokens: nullable(z.number().int().min(1)),
  temperature: nullable(z.number().min(0).max(2)),
  top_p: nullable(z.number().gt(0).max(1)),
  seed: nullable(z.number().int()),
  stop: nullable(z.union([z.string().min(1), z.array(z.string().min(1)).max(4)])),
  n: nullable(z.literal(1, { error: 'only n = 1 is supported' })),
  stream: nullable(z.boolean()),
  stream_options: nullable(z.strictObject({ include_usage: nullable(z.boolean()) })),
  user: nullable(z.string().min(1)),
};

const textPart = z.strictObject({ type: z.literal('text'), text: z.string() });

const message = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant'], { error: 'role must be system, developer, user or assistant' }),
  content: z.union([z.string(), z.array(textPart), z.null()]),
  name: nullable(z.string()),
});

export const chatRequestSchema = z.strictObject({
  ...sampling,
  messages: z.array(message).min(1, { error: 'messages must hold at least one message' }),
  max_completion_tokens: nullable(z.number().int().min(1)),
  logprobs: nullable(z.boolean()),
  top_logprobs: nullable(z.number().int().min(0).max(20)),
});

export const completionRequestSchema = z.strictObject({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1), z.array(z.number().int().min(0)).min(1), z.array(z.array(z.number().int().min(0)).min(1)).length(1)]),
  logprobs: nullable(z.number().int().min(0).max(5)),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/** Parses a body against a schema; every problem is listed in one SERVE_REQUEST_INVALID error. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, endpoint: string): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
    if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} in ${where} (not supported by this server)`;
    return `${where}: ${issue.message}`;
  });
  const first = result.error.issues[0]!;
  const field = first.code === 'unrecognized_keys' ? [...first.path, first.keys[0]!].join('.') : first.path.join('.');
  throw new SnnError('SERVE_REQUEST_INVALID', { message: problems.join('; '), at: field || endpoint });
}

/** The text of a message's content (string or text parts). */
export function contentText(content: ChatRequest['messages'][number]['content']): string {
  if (content === null) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}
