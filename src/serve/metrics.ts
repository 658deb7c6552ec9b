// The server's counters and gauges, rendered in the Prometheus text exposition format (version 0.0.4).

/** Tokens/s is measured over this trailing window. */
const RATE_WINDOW_MS = 10_000;

export interface MetricsGauges {
  readonly queueDepth: number;
  readonly activeRequests: number;
  readonly sessionsHeld: number;
  readonly sessionEvictions: number;
  /** Mean spikes per fed token over the sampled steps (null for an ANN or before any sample). */
  readonly spikesPerToken: number | null;
}

/** Counters updated by the routes and the engine; `render` adds the gauges read at scrape time. */
export class Metrics {
  private readonly requests = new Map<string, number>();
  promptTokens = 0;
  completionTokens = 0;
  fedTokens = 0;
  cacheHits = 0;
  cachedTokens = 0;
  rejected = 0;
  steps = 0;
  /** Clients that went away, by phase (upload, generate, stream): counted apart from errors. */
  private readonly disconnects = new Map<string, number>();
  private readonly recent: { at: number; tokens: number }[] = [];
  private readonly started = performance.now();

  countRequest(endpoint: string, status: number): void {
    const key = `endpoint="${endpoint}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  countDisconnect(phase: string): void {
    this.disconnects.set(phase, (this.disconnects.get(phase) ?? 0) + 1);
  }

  /** One batched step: `generated` tokens sampled for the rows, `fed` tokens run through the model. */
  countStep(generated: number, fed: number): void {
    this.steps += 1;
    this.completionTokens += generated;
    this.fedTokens += fed;
    const now = performance.now();
    this.recent.push({ at: now, tokens: generated });
    while (this.recent.length > 0 && this.recent[0]!.at < now - RATE_WINDOW_MS) this.recent.shift();
  }

  /** Generated tokens per second over the last 10 s. */
  tokensPerSecond(): number {
    const now = performance.now();
    const span = Math.min(RATE_WINDOW_MS, now - this.started) / 1000;
    const tokens = this.recent.filter((r) => r.at >= now - RATE_WINDOW_MS).reduce((s, r) => s + r.tokens, 0);
    return span > 0 ? tokens / span : 0;
  }

  render(g: MetricsGauges): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: readonly [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels ? `{${labels}}` : ''} ${Number.isFinite(value) ? value : 'NaN'}`);
    };
    metric('snn_requests_total', 'counter', 'HTTP requests answered, by endpoint and status.', [...this.requests].map(([k, v]) => [k, v]));
    metric('snn_client_disconnects_total', 'counter', 'Clients that closed the connection before their answer (phase: upload, generate, stream); not errors, and not in the 5xx counts.', [...this.disconnects].map(([k, v]) => [`phase="${k}"`, v]));
    metric('snn_rejected_total', 'counter', 'Requests refused with 429 because the queue was full.', [['', this.rejected]]);
    metric('snn_prompt_tokens_total', 'counter', 'Prompt tokens of answered requests.', [['', this.promptTokens]]);
    metric('snn_completion_tokens_total', 'counter', 'Tokens generated.', [['', this.completionTokens]]);
    metric('snn_fed_tokens_total', 'counter', 'Tokens run through the model (prompt tokens not found in a session cache, and generated tokens).', [['', this.fedTokens]]);
    metric('snn_tokens_per_second', 'gauge', 'Generated tokens per second over the last 10 s.', [['', this.tokensPerSecond()]]);
    metric('snn_batch_steps_total', 'counter', 'Batched model calls (one per decoding step of all active requests).', [['', this.steps]]);
    metric('snn_cache_hits_total', 'counter', 'Requests that reused a prefix held by their session.', [['', this.cacheHits]]);
    metric('snn_cached_prompt_tokens_total', 'counter', 'Prompt tokens reused from session caches instead of being fed again.', [['', this.cachedTokens]]);
    metric('snn_queue_depth', 'gauge', 'Requests waiting for a slot.', [['', g.queueDepth]]);
    metric('snn_active_requests', 'gauge', 'Requests being generated.', [['', g.activeRequests]]);
    metric('snn_sessions_held', 'gauge', 'Named sessions whose cache is held.', [['', g.sessionsHeld]]);
    metric('snn_session_evictions_total', 'counter', 'Sessions evicted (least recently used) beyond --max-sessions.', [['', g.sessionEvictions]]);
    if (g.spikesPerToken !== null) metric('snn_spikes_per_token', 'gauge', 'Mean spikes (|value| summed over every neuron site and timestep) per fed token, from the spike tensors of sampled steps.', [['', g.spikesPerToken]]);
    return `${lines.join('\n')}\n`;
  }
}
