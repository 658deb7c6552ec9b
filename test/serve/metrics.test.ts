// The /metrics text: valid Prometheus exposition lines (HELP, TYPE, samples) with the counters the server keeps.
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/serve/metrics.js';

/** name{labels} value, as the text format defines a sample line. */
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|NaN)$/;

describe('Metrics.render', () => {
  it('renders every line as a comment or a valid sample, each metric with HELP and TYPE', () => {
    const m = new Metrics();
    m.countRequest('/v1/completions', 200);
    m.countRequest('/v1/completions', 200);
    m.countRequest('/v1/completions', 429);
    m.countStep(4, 20);
    m.cacheHits = 3;
    const text = m.render({ queueDepth: 2, activeRequests: 4, sessionsHeld: 5, sessionEvictions: 1, spikesPerToken: 1234.5 });
    const lines = text.trimEnd().split('\n');
    for (const line of lines) expect(line.startsWith('# HELP ') || line.startsWith('# TYPE ') || SAMPLE.test(line)).toBe(true);
    expect(lines).toContain('snn_requests_total{endpoint="/v1/completions",status="200"} 2');
    expect(lines).toContain('snn_requests_total{endpoint="/v1/completions",status="429"} 1');
    for (const [name, value] of [['snn_queue_depth', 2], ['snn_active_requests', 4], ['snn_sessions_held', 5], ['snn_cache_hits_total', 3], ['snn_completion_tokens_total', 4], ['snn_fed_tokens_total', 20], ['snn_spikes_per_token', 1234.5]] as const) {
      expect(lines).toContain(`${name} ${value}`);
      expect(lines.some((l) => l.startsWith(`# TYPE ${name} `))).toBe(true);
    }
    expect(text).toMatch(/^snn_tokens_per_second \d/m);
  });

  it('leaves spikes per token out for an ANN', () => {
    expect(new Metrics().render({ queueDepth: 0, activeRequests: 0, sessionsHeld: 0, sessionEvictions: 0, spikesPerToken: null })).not.toContain('snn_spikes_per_token');
  });
});
