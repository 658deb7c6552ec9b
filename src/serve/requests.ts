// From a validated OpenAI request to what the engine runs: session id, prompt tokens, limits, sampling, stops.
import { SnnError } from '../errors/index.js';
import type { ChatMessage, Tokenizer } from '../tokenizer/tokenizer.js';
import { renderTranscript } from '../runtime/conversation.js';
import type { OverflowPolicy } from '../runtime/tsp.js';
import type { JobRequest } from './job.js';
import { contentText, type ChatRequest, type CompletionRequest } from './schema.js';

/** What a request is prepared against: the model's tokenizer and limits, the server's policies. */
export interface RequestContext {
  readonly tokenizer: Tokenizer;
  readonly vocabSize: number;
  /** Tokens a conversation may hold (the processor's maxContextLength). */
  readonly contextLength: number;
  readonly overflow: OverflowPolicy;
  readonly eos: readonly number[];
  readonly modelId: string;
}

/** The plain transcript (no chat template) ends a reply where the next `User:` line would start. */
const PLAIN_STOP = '\nUser:';
/** OpenAI's default for /v1/completions. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;
const MAX_SESSION_ID = 256;

export type PreparedRequest = Omit<JobRequest, 'signal'>;

/** The session id: the `X-Session-Id` header, else the `user` field, else none (a private conversation). */
export function sessionIdOf(header: string | undefined, user: string | null | undefined): string | null {
  const id = header ?? user ?? null;
  if (id !== null && (id.length === 0 || id.length > MAX_SESSION_ID)) {
    throw new SnnError('SERVE_REQUEST_INVALID', { message: `a session id must have 1 to ${MAX_SESSION_ID} characters, got ${id.length}`, at: header !== undefined ? 'X-Session-Id' : 'user' });
  }
  return id;
}

export function prepareChat(body: ChatRequest, sessionId: string | null, ctx: RequestContext): PreparedRequest {
  checkModel(body.model, ctx);
  const messages: ChatMessage[] = body.messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: contentText(m.content) }));
  const plain = !ctx.tokenizer.hasChatTemplate;
  const prompt = renderTranscript(ctx.tokenizer, messages);
  const stop = [...(plain ? [PLAIN_STOP] : []), ...stopList(body.stop)];
  const topLogprobs = body.logprobs ? body.top_logprobs ?? 0 : null;
  if (!body.logprobs && body.top_logprobs != null) throw invalid('top_logprobs needs logprobs: true', 'top_logprobs');
  return finish(prompt, body.max_completion_tokens ?? body.max_tokens ?? null, body, { sessionId, stop, topLogprobs, trimStart: plain }, ctx, 'messages');
}

export function prepareCompletion(body: CompletionRequest, sessionId: string | null, ctx: RequestContext): PreparedRequest {
  checkModel(body.model, ctx);
  const p = body.prompt;
  const prompt = typeof p === 'string' ? ctx.tokenizer.encode(p) : typeof p[0] === 'string' ? ctx.tokenizer.encode(p[0]) : Array.isArray(p[0]) ? p[0] : (p as number[]);
  const bad = prompt.find((id) => id >= ctx.vocabSize);
  if (bad !== undefined) throw invalid(`token id ${bad} is outside the vocabulary of ${ctx.vocabSize} tokens`, 'prompt');
  return finish(prompt, body.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS, body, { sessionId, stop: stopList(body.stop), topLogprobs: body.logprobs ?? null, trimStart: false }, ctx, 'prompt');
}

interface Extras { readonly sessionId: string | null; readonly stop: readonly string[]; readonly topLogprobs: number | null; readonly trimStart: boolean }

/** Applies the context policy: 400 naming the limit ('error'), or keep the prompt's newest tokens ('slide'). */
function finish(prompt: readonly number[], asked: number | null, body: ChatRequest | CompletionRequest, extras: Extras, ctx: RequestContext, field: string): PreparedRequest {
  if (prompt.length === 0) throw invalid('the prompt is empty', field);
  const limit = ctx.contextLength;
  let maxTokens: number;
  let fitted = prompt;
  if (ctx.overflow === 'error') {
    maxTokens = asked ?? limit - prompt.length;
    if (prompt.length + Math.max(1, maxTokens) > limit) {
      throw new SnnError('CONTEXT_OVERFLOW', {
        message: `this model's context is ${limit} tokens; the ${field} ${field === 'prompt' ? 'takes' : 'take'} ${prompt.length} and max_tokens asks ${asked ?? 'at least 1'} more`,
        at: field,
        hint: `shorten the ${field} or lower max_tokens so that both fit in ${limit} tokens (or start the server with --overflow slide)`,
      });
    }
  } else {
    // Slide: the processor drops the oldest tokens as the reply grows; the prompt keeps its newest tokens.
    maxTokens = asked ?? Math.max(1, Math.min(limit - prompt.length, Math.floor(limit / 2)));
    fitted = prompt.slice(-(limit - Math.min(maxTokens, Math.floor(limit / 2))));
  }
  return {
    sessionId: extras.sessionId,
    prompt: fitted,
    maxTokens,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    seed: body.seed ?? Math.floor(Math.random() * 2 ** 31),
    stop: extras.stop,
    eos: ctx.eos,
    topLogprobs: extras.topLogprobs,
    trimStart: extras.trimStart,
  };
}

function checkModel(model: string | null | undefined, ctx: RequestContext): void {
  if (model != null && model !== ctx.modelId) {
    throw new SnnError('SERVE_MODEL_UNKNOWN', { message: `model ${JSON.stringify(model)} is not served here (served: ${JSON.stringify(ctx.modelId)})`, at: 'model' });
  }
}

function stopList(stop: string | readonly string[] | null | undefined): string[] {
  return stop == null ? [] : typeof stop === 'string' ? [stop] : [...stop];
}

function invalid(message: string, at: string): SnnError {
  return new SnnError('SERVE_REQUEST_INVALID', { message, at });
}
