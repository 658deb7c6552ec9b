// Spikes per token for /metrics: every Nth model call also fetches the spike tensors and counts them over real tokens.
import type { ModelSession, StepInput } from '../runtime/session.js';

/** A neuron site's spike output and its channel count (`Bundle.spikeOutputs`). */
export interface SpikeSite {
  readonly output: string;
  readonly channels: number;
}

/** Running spike totals over the sampled calls. */
export class SpikeMeter {
  spikes = 0;
  tokens = 0;
  private calls = 0;

  constructor(private readonly every: number) {}

  get perToken(): number | null { return this.tokens > 0 ? this.spikes / this.tokens : null; }

  /**
   * Wraps `session.run` so that one call in `every` also fetches the spike outputs (`spikes/<site>`,
   * [T, B, S, D] integers) and adds Σ|v| over the real (unmasked) new tokens. Other calls are untouched,
   * so the measurement costs little; a session without spike outputs (an ANN) is left as it is.
   * Returns the function that puts the original `run` back.
   */
  attach(session: ModelSession, sites: readonly SpikeSite[]): () => void {
    const names = sites.map((s) => s.output);
    if (names.length === 0 || this.every <= 0) return () => undefined;
    const original = session.run;
    const run = original.bind(session);
    session.run = async (input, extra = []) => {
      if (this.calls++ % this.every !== 0 || extra.length > 0) return run(input, extra);
      const out = await run(input, names);
      this.count(input, sites.map((site) => ({ data: out.extra.get(site.output)!.data, channels: site.channels })));
      return { ...out, extra: new Map() };
    };
    return () => { session.run = original; };
  }

  private count(input: StepInput, tensors: readonly { readonly data: Float32Array; readonly channels: number }[]): void {
    const { batch: B, seq: S, past } = input;
    const total = past + S;
    const real: boolean[] = [];
    for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) real.push(input.mask[b * total + past + s] === 1n);
    const realCount = real.filter(Boolean).length;
    if (realCount === 0) return;
    for (const { data, channels: D } of tensors) {
      if (D === 0 || data.length % (B * S * D) !== 0) continue;
      // [T, B, S, D]: the (b, s) slot of the vector starting at i is (i / D) mod (B·S), whatever the step.
      for (let i = 0; i < data.length; i += D) {
        if (!real[(i / D) % (B * S)]) continue;
        for (let d = 0; d < D; d++) this.spikes += Math.abs(data[i + d]!);
      }
    }
    this.tokens += realCount;
  }
}
