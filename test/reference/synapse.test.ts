// Event-by-event integer synapse against a hand count.
import { describe, expect, it } from 'vitest';
import { accumulateEvents } from '../../src/reference/synapse.js';

describe('event synapse', () => {
  it('adds w·2^k per event, then scales and biases once; counts one operation per event and target', () => {
    // T=2, one row, 2 inputs → 2 outputs, W = [[1, 2], [3, −4]] ([in, out]).
    // Events: input 0 fires +1 at t=0 (weight 2) and −1 at t=1 (weight 1); input 1 fires +1 at t=1.
    // acc = 2·[1, 2] − [1, 2] + [3, −4] = [4, −2]; × s = [0.5, 0.25] → [2, −0.5]; + b = [1, 1] → [3, 0.5].
    const planes = { steps: 2, rows: 1, width: 2, data: Int8Array.from([1, 0, -1, 1]) };
    const syn = { weights: Int8Array.from([1, 2, 3, -4]), scale: Float32Array.from([0.5, 0.25]), inFeatures: 2, outFeatures: 2 };
    const { output, sops } = accumulateEvents(planes, syn, Float32Array.from([1, 1]));
    expect([...output]).toEqual([3, 0.5]);
    expect(sops).toBe(6);
  });
});
