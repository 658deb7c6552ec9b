// SpikeMeter: counts Σ|spike| over real tokens only (padding and cached slots excluded), on the sampled calls only.
import { describe, expect, it } from 'vitest';
import type { ModelSession, StepInput, StepOutput } from '../../src/runtime/session.js';
import { SpikeMeter } from '../../src/serve/spikes.js';

/** A stand-in session: returns the given spike tensors when asked for them, and records what was asked. */
function fakeSession(spikes: Map<string, Float32Array>) {
  const asked: (readonly string[])[] = [];
  const session = {
    extraOutputs: [...spikes.keys()],
    async run(_input: StepInput, extra: readonly string[] = []): Promise<StepOutput> {
      asked.push(extra);
      return { logits: new Float32Array(0), present: [], extra: new Map(extra.map((n) => [n, { data: spikes.get(n)!, dims: [] }])) };
    },
  };
  return { session: session as unknown as ModelSession, asked };
}

describe('SpikeMeter', () => {
  it('sums |spikes| over every step and channel of the real tokens, skipping padded slots', async () => {
    // T=2, B=2, S=2, D=3; row 1's second slot is padding (mask 0). past = 1 cached key per row.
    const T = 2, B = 2, S = 2, D = 3;
    const data = new Float32Array(T * B * S * D);
    // value at (t, b, s, d) = (t + 1) * (b * 10 + s + 1) * (d % 2 ? -1 : 1): signed, so |v| must be taken.
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) {
      data[((t * B + b) * S + s) * D + d] = (t + 1) * (b * 10 + s + 1) * (d % 2 ? -1 : 1);
    }
    const { session } = fakeSession(new Map([['spikes/a', data]]));
    const meter = new SpikeMeter(1);
    meter.attach(session, [{ output: 'spikes/a', channels: D }]);
    const mask = BigInt64Array.from([1n, 1n, 1n, 1n, 1n, 0n]); // [B, past + S] = [2, 3]
    await session.run({ batch: B, seq: S, ids: new BigInt64Array(4), mask, positions: new BigInt64Array(4), past: 1, cache: [] });
    // Real slots: (b0,s0), (b0,s1), (b1,s0). Per slot Σ_t Σ_d |v| = (1 + 2) * base * 3.
    const expected = 3 * 3 * (1 + 2 + 11);
    expect(meter.spikes).toBe(expected);
    expect(meter.tokens).toBe(3);
    expect(meter.perToken).toBe(expected / 3);
  });

  it('fetches spikes on one call in `every` and leaves the others as they were', async () => {
    const { session, asked } = fakeSession(new Map([['spikes/a', new Float32Array(3).fill(1)]]));
    const meter = new SpikeMeter(4);
    const detach = meter.attach(session, [{ output: 'spikes/a', channels: 3 }]);
    const input = { batch: 1, seq: 1, ids: new BigInt64Array(1), mask: BigInt64Array.from([1n]), positions: new BigInt64Array(1), past: 0, cache: [] };
    for (let i = 0; i < 8; i++) await session.run(input);
    expect(asked.map((a) => a.length)).toEqual([1, 0, 0, 0, 1, 0, 0, 0]);
    expect(meter.tokens).toBe(2);
    detach();
    await session.run(input);
    expect(asked.at(-1)).toEqual([]);
    expect(meter.tokens).toBe(2);
  });
});
