// From a validated OpenAI request to what the engine runs: prompt tokens, limits, sampling, penalties, stops, choices.
import { SnnError } from '../errors/index.js';
import type { ChatMessage, Tokenizer } from '../tokenizer/tokenizer.js';
import type { OverflowPolicy } from '../runtime/tsp.js';
import type { JobRequest } from './job.js';
import { neutralChatFields, neutralCompletionFields, unsupported } from './neutral.js';
import type { ChatMessageBody, ChatRequest, CompletionRequest } from './schema.js';

/** What a request is prepared against: the model's tokenizer and limits, the server's policies. */
export interface RequestContext {
  readonly tokenizer: Tokenizer;
  readonly vocabSize: number;
  /** Tokens a conversation may hold (the processor's maxContextLength). */
  readonly contextLength: number;
  readonly overflow: OverflowPolicy;
  readonly eos: readonly number[];
  readonly modelId: string;
  /** Most choices (`n`) one request may ask: the batch size, so all choices run together. */
  readonly maxChoices: number;
}

/** The plain transcript (no chat template) ends a reply where the next `User:` line would start. */
const PLAIN_STOP = '\nUser:';
/** The plain transcript's labels (as the runtime's Conversation renders them). */
const LABELS: Record<ChatMessage['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant' };
/** OpenAI's default for /v1/completions. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;
const ROLES = ['system', 'developer', 'user', 'assistant'] as const;

/** A prepared request: one job per choice shares everything but the seed (choice i samples with seed + i). */
export type PreparedRequest = Omit<JobRequest, 'signal' | 'sessionId'> & { readonly n: number };

export function prepareChat(body: ChatRequest, ctx: RequestContext): PreparedRequest {
  checkModel(body.model, ctx);
  neutralChatFields(body);
  const messages = body.messages.map((m, i) => messageOf(m, `messages.${i}`));
  const plain = !ctx.tokenizer.hasChatTemplate;
  const prompt = plain ? renderPlain(ctx.tokenizer, messages) : ctx.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  if (!body.logprobs && body.top_logprobs != null) throw invalid('top_logprobs needs logprobs: true', 'top_logprobs');
  const topLogprobs = body.logprobs ? body.top_logprobs ?? 0 : null;
  const stop = [...(plain ? [PLAIN_STOP] : []), ...body.stop ?? []];
  return finish(prompt, body.max_completion_tokens ?? body.max_tokens ?? null, body, { stop, topLogprobs }, ctx, 'messages');
}

export function prepareCompletion(body: CompletionRequest, ctx: RequestContext): PreparedRequest {
  checkModel(body.model, ctx);
  neutralCompletionFields(body);
  const prompt = promptTokens(body.prompt, ctx);
  return finish(prompt, body.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS, body, { stop: body.stop ?? [], topLogprobs: body.logprobs ?? null }, ctx, 'prompt');
}

/**
 * The plain transcript, `Label: content` lines ending with `Assistant:`. A reply that begins with
 * whitespace (as generated replies do: the model writes the space after `Assistant:`) is rendered
 * without an added space, so a client that sends back the exact reply re-renders exactly the tokens
 * the session holds.
 */
function renderPlain(tokenizer: Tokenizer, messages: readonly ChatMessage[]): number[] {
  const lines = messages.map((m) => `${LABELS[m.role]}:${m.role === 'assistant' && /^\s/.test(m.content) ? '' : ' '}${m.content}`);
  return tokenizer.encodeInput([...lines, `${LABELS.assistant}:`].join('\n'), { specialTokens: true });
}

/** One message's role and text; parts and fields that need tools, images or audio are refused naming them. */
function messageOf(m: ChatMessageBody, at: string): ChatMessage {
  if (m.role === 'tool' || m.role === 'function') throw unsupported(`${at}.role`, `"${m.role}" messages answer tool calls, which this server does not make (roles: ${ROLES.join(', ')})`);
  if (!(ROLES as readonly string[]).includes(m.role)) throw invalid(`${at}.role: ${JSON.stringify(m.role)} is not a role (valid: ${ROLES.join(', ')})`, `${at}.role`);
  if (m.tool_calls != null && m.tool_calls.length > 0) throw unsupported(`${at}.tool_calls`, 'tool calls are not supported (send [] or leave it out)');
  if (m.function_call != null) throw unsupported(`${at}.function_call`, 'function calls are not supported (send null or leave it out)');
  if (m.audio != null) throw unsupported(`${at}.audio`, 'audio is not supported (send null or leave it out)');
  const text = contentText(m.content, `${at}.content`);
  // A refused turn's text is its refusal (the assistant said it, so the model sees it).
  const content = text === '' && m.refusal != null ? m.refusal : text;
  return { role: m.role === 'developer' ? 'system' : m.role as ChatMessage['role'], content };
}

/** The text of a message's content: a string, null, or text (and refusal) parts. */
function contentText(content: unknown, at: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(`${at}: must be a string, null or a list of text parts`, at);
  return content.map((part: unknown, i) => {
    const where = `${at}.${i}`;
    const p = (typeof part === 'object' && part !== null ? part : {}) as Record<string, unknown>;
    if (p['type'] === 'text' && typeof p['text'] === 'string') return p['text'];
    if (p['type'] === 'refusal' && typeof p['refusal'] === 'string') return p['refusal'];
    if (typeof p['type'] === 'string' && !['text', 'refusal'].includes(p['type'])) throw unsupported(`${where}.type`, `${JSON.stringify(p['type'])} parts are not supported: this model reads text (part types: text, refusal)`);
    throw invalid(`${where}: must be {"type": "text", "text": "…"} (or a refusal part)`, where);
  }).join('');
}

/** A completions prompt: text, or token ids; one prompt per request. */
function promptTokens(p: unknown, ctx: RequestContext): number[] {
  const one = (v: unknown, at: string): number[] => {
    if (typeof v === 'string') return ctx.tokenizer.encode(v);
    if (!Array.isArray(v) || v.length === 0) throw invalid(`${at}: must be a string or a non-empty list of token ids`, at);
    return v.map((id: unknown, i) => {
      if (typeof id !== 'number' || !Number.isInteger(id)) throw invalid(`${at}.${i}: token ids must be whole numbers, got ${JSON.stringify(id)}`, `${at}.${i}`);
      if (id < 0 || id >= ctx.vocabSize) throw invalid(`${at}.${i}: token id ${id} is outside the vocabulary (0 to ${ctx.vocabSize - 1})`, `${at}.${i}`);
      return id;
    });
  };
  if (p === undefined || p === null) throw invalid('prompt: required (a string or a list of token ids)', 'prompt');
  if (Array.isArray(p) && p.length > 0 && (typeof p[0] === 'string' || Array.isArray(p[0]))) {
    if (p.length > 1) throw unsupported('prompt', `one prompt per request, got ${p.length} (send them as separate requests)`);
    return one(p[0], 'prompt.0');
  }
  return one(p, 'prompt');
}

interface Extras { readonly stop: readonly string[]; readonly topLogprobs: number | null }

/** Applies the context policy: 400 naming the limit ('error'), or keep the prompt's newest tokens ('slide'). */
function finish(prompt: readonly number[], asked: number | null, body: ChatRequest | CompletionRequest, extras: Extras, ctx: RequestContext, field: string): PreparedRequest {
  if (prompt.length === 0) throw invalid(`${field}: the prompt is empty`, field);
  const n = body.n ?? 1;
  if (n > ctx.maxChoices) throw unsupported('n', `at most ${ctx.maxChoices} choices (the server's --max-batch), got ${n}`);
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
    n,
    prompt: fitted,
    maxTokens,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    seed: body.seed ?? Math.floor(Math.random() * 2 ** 31),
    stop: extras.stop,
    eos: ctx.eos,
    topLogprobs: extras.topLogprobs,
    presencePenalty: body.presence_penalty ?? 0,
    frequencyPenalty: body.frequency_penalty ?? 0,
    logitBias: logitBias(body.logit_bias, ctx),
  };
}

/** `logit_bias` keys are token ids written as strings ("50256"); each must name a token of this vocabulary. */
function logitBias(bias: Readonly<Record<string, number>> | null | undefined, ctx: RequestContext): ReadonlyMap<number, number> {
  const out = new Map<number, number>();
  for (const [key, value] of Object.entries(bias ?? {})) {
    const id = /^\d+$/.test(key) ? Number(key) : NaN;
    if (!Number.isInteger(id) || id >= ctx.vocabSize) throw invalid(`logit_bias: key ${JSON.stringify(key)} is not a token id of this model (whole numbers 0 to ${ctx.vocabSize - 1})`, `logit_bias.${key}`);
    if (value !== 0) out.set(id, value);
  }
  return out;
}

function checkModel(model: string | null | undefined, ctx: RequestContext): void {
  if (model != null && model !== ctx.modelId) {
    throw new SnnError('SERVE_MODEL_UNKNOWN', { message: `model ${JSON.stringify(model)} is not served here (served: ${JSON.stringify(ctx.modelId)})`, at: 'model' });
  }
}

function invalid(message: string, at: string): SnnError {
  return new SnnError('SERVE_REQUEST_INVALID', { message, at });
}
