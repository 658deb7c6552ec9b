// The scheduler: admits queued requests into one batch, runs a batched step for all of them, samples each row.
import { SnnError } from '../errors/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { commonPrefix } from '../runtime/conversation.js';
import type { TemporalSpikeProcessor } from '../runtime/tsp.js';
import { Job, type JobRequest } from './job.js';
import type { Metrics } from './metrics.js';
import { SessionTable } from './sessions.js';

export interface EngineOptions {
  /** Requests generated together, one row each of every batched step. */
  readonly maxBatch: number;
  /** Requests allowed to wait for a slot; one more is refused (429). */
  readonly maxQueue: number;
  /** Named sessions held; beyond it the least recently used idle one is evicted. */
  readonly maxSessions: number;
}

/**
 * Continuous batching over a TemporalSpikeProcessor: each step feeds every active request's pending
 * tokens in one `forward` (a new request's uncached prompt, or the token sampled last), so a request
 * joins or leaves the batch between steps. The processor keeps each row's result bit-identical to
 * running it alone, so batching never changes an answer.
 */
export class Engine {
  readonly sessions: SessionTable;
  private readonly waiting: Job[] = [];
  private readonly active: Job[] = [];
  private running: Promise<void> | null = null;
  private anonymous = 0;
  private closed = false;

  constructor(private readonly tsp: TemporalSpikeProcessor, private readonly tokenizer: Tokenizer, private readonly metrics: Metrics, readonly opts: EngineOptions) {
    this.sessions = new SessionTable(opts.maxSessions, (id) => this.forget(id));
  }

  get queueDepth(): number { return this.waiting.length; }
  get activeCount(): number { return this.active.length; }

  /** Queues a request (choice `index` of its HTTP request); throws SERVE_QUEUE_FULL when the queue is full or the server is draining. */
  submit(request: JobRequest, index = 0): Job {
    if (this.closed) throw new SnnError('SERVE_QUEUE_FULL', { message: 'the server is shutting down', at: 'queue', hint: 'retry against another instance' });
    // Requests that arrive during a step wait for the next admission even when slots are free: count those slots in.
    const freeSlots = Math.max(0, this.opts.maxBatch - this.active.length);
    if (this.waiting.length >= this.opts.maxQueue + freeSlots) {
      this.metrics.rejected += 1;
      throw new SnnError('SERVE_QUEUE_FULL', { message: `${this.waiting.length} requests are waiting (--max-queue ${this.opts.maxQueue}) and ${this.active.length} are running`, at: 'queue' });
    }
    const conversationId = request.sessionId === null ? `anon:${this.anonymous++}` : `session:${request.sessionId}`;
    const job = new Job(request, conversationId, this.tokenizer, index);
    this.waiting.push(job);
    this.running ??= this.loop().finally(() => { this.running = null; });
    return job;
  }

  /** Refuses new requests and resolves when every queued and active one has finished. */
  async drain(): Promise<void> {
    this.closed = true;
    while (this.running) await this.running;
  }

  /** Seconds a refused client should wait: roughly one queue's worth of requests at the current pace. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.waiting.length / Math.max(1, this.opts.maxBatch)));
  }

  private async loop(): Promise<void> {
    while (this.waiting.length > 0 || this.active.length > 0) {
      this.admit();
      this.dropAborted();
      if (this.active.length === 0) {
        if (this.waiting.length === 0) break;
        await new Promise((r) => setTimeout(r, 1)); // every waiting session busy with no active job cannot happen; never spin if it does
        continue;
      }
      await this.step();
      // Let the HTTP side write what was produced and accept new requests before the next step.
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Moves waiting requests into the batch, in order, skipping those whose session is busy. */
  private admit(): void {
    for (let i = 0; i < this.waiting.length && this.active.length < this.opts.maxBatch;) {
      const job = this.waiting[i]!;
      if (job.aborted) { this.waiting.splice(i, 1); job.cancel(); continue; }
      if (job.request.sessionId !== null && !this.sessions.acquire(job.conversationId)) { i++; continue; }
      this.waiting.splice(i, 1);
      this.start(job);
    }
  }

  /** Rewinds the session to its longest prefix shared with the prompt; the job feeds the rest. */
  private start(job: Job): void {
    const prompt = job.request.prompt;
    const held = this.tsp.conversations().includes(job.conversationId) ? this.tsp.getTokenIds(job.conversationId) : [];
    // At least one token is fed: its logits give the first sampled token.
    const shared = Math.min(commonPrefix(held, prompt), prompt.length - 1);
    if (shared < held.length) {
      if (shared === 0) this.tsp.resetCache(job.conversationId);
      else this.tsp.truncateCache(job.conversationId, shared);
    }
    job.feed = prompt.slice(shared);
    job.cachedTokens = shared;
    if (shared > 0) { this.metrics.cacheHits += 1; this.metrics.cachedTokens += shared; }
    this.active.push(job);
  }

  private async step(): Promise<void> {
    const jobs = [...this.active];
    const fed = jobs.reduce((n, j) => n + j.feed.length, 0);
    let rows: readonly Float32Array[];
    try {
      // Only each row's last token is sampled from: a long prompt's prefill keeps one chunk's logits.
      rows = (await this.tsp.forward(jobs.map((j) => j.feed), { batchIds: jobs.map((j) => j.conversationId), logits: 'last' })).rowLogits;
    } catch (e) {
      // The processor is transactional: no conversation changed. Fail these requests, keep serving.
      for (const job of jobs) { job.fail(e); this.finish(job); }
      return;
    }
    let sampled = 0;
    for (const [r, job] of jobs.entries()) {
      if (!job.done && !job.aborted) { job.accept(rows[r]!); sampled += 1; }
      if (job.done || job.aborted) this.finish(job);
    }
    this.metrics.countStep(sampled, fed);
  }

  private dropAborted(): void {
    for (const job of [...this.active]) if (job.aborted) { job.cancel(); this.finish(job); }
  }

  /** Takes a job out of the batch, freeing its slot and its session (a private conversation is forgotten). */
  private finish(job: Job): void {
    const i = this.active.indexOf(job);
    if (i >= 0) this.active.splice(i, 1);
    if (job.request.sessionId === null) this.forget(job.conversationId);
    else this.sessions.release(job.conversationId);
  }

  private forget(conversationId: string): void {
    if (this.tsp.conversations().includes(conversationId)) this.tsp.resetCache(conversationId);
  }
}
