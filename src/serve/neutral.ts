// The OpenAI fields this server accepts only at their neutral values: anything that asks for tools, images, audio or JSON modes is a 400 naming the field.
import { SnnError } from '../errors/index.js';
import type { ChatRequest, CompletionRequest } from './schema.js';

/** A value that asks for behaviour this server does not have: SERVE_FIELD_UNSUPPORTED naming the field. */
export function unsupported(field: string, what: string): SnnError {
  return new SnnError('SERVE_FIELD_UNSUPPORTED', { message: `${field}: ${what}`, at: field });
}

/**
 * Chat fields we accept but do not act on are checked here. Ignored whatever their value (they change
 * nothing in the answer): `store` (nothing is stored), `metadata`, `service_tier`, `user`,
 * `safety_identifier`, `prompt_cache_*` (the session cache is named by X-Session-Id), `prediction`
 * (a speed hint), `parallel_tool_calls` (no tools run).
 */
export function neutralChatFields(b: ChatRequest): void {
  const format = b.response_format?.type;
  if (format != null && format !== 'text') throw unsupported('response_format.type', `${JSON.stringify(format)} is not supported: this server writes free text (valid: "text")`);
  if (b.tools != null && b.tools.length > 0) throw unsupported('tools', 'tool calling is not supported (send [] or leave it out)');
  if (b.functions != null && b.functions.length > 0) throw unsupported('functions', 'function calling is not supported (send [] or leave it out)');
  for (const field of ['tool_choice', 'function_call'] as const) {
    const v = b[field];
    if (v != null && v !== 'none' && v !== 'auto') throw unsupported(field, `${JSON.stringify(v)} asks for a tool call, which this server does not make (valid: "none", "auto")`);
  }
  if (b.audio != null) throw unsupported('audio', 'audio output is not supported (send null or leave it out)');
  const other = b.modalities?.find((m) => m !== 'text');
  if (other !== undefined) throw unsupported('modalities', `${JSON.stringify(other)} output is not supported (valid: ["text"])`);
  if (b.reasoning_effort != null && b.reasoning_effort !== 'none') throw unsupported('reasoning_effort', `${JSON.stringify(b.reasoning_effort)}: this model does not reason before answering (valid: "none" or null)`);
  if (b.verbosity != null && b.verbosity !== 'medium') throw unsupported('verbosity', `${JSON.stringify(b.verbosity)} is not supported: the reply length is set by max_tokens (valid: "medium" or null)`);
  if (b.web_search_options != null) throw unsupported('web_search_options', 'web search is not supported (send null or leave it out)');
  if (b.moderation != null) throw unsupported('moderation', 'moderation is not supported (send null or leave it out)');
}

/** Completions fields at their neutral values only: `echo`, `suffix`, `best_of`. */
export function neutralCompletionFields(b: CompletionRequest): void {
  if (b.echo === true) throw unsupported('echo', 'echoing the prompt is not supported (valid: false)');
  if (b.suffix != null && b.suffix !== '') throw unsupported('suffix', 'insertion (a text after the completion) is not supported (valid: null or "")');
  const n = b.n ?? 1;
  if (b.best_of != null && b.best_of !== n) throw unsupported('best_of', `only best_of = n (${n}) is supported: every choice drawn is returned, got ${b.best_of}`);
}
