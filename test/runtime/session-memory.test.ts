// Session memory modes: the default prepacks weights and keeps the arena (calibration and every ANN session use it);
// `lowMemory` (`--low-memory`) drops both.
import { describe, expect, it } from 'vitest';
import { sessionOptions } from '../../src/runtime/session.js';

describe('sessionOptions memory modes', () => {
  it('default: prepacking and the arena (onnxruntime defaults)', () => {
    const o = sessionOptions('cpu');
    expect(o.enableCpuMemArena).toBeUndefined();
    expect(o.extra).toBeUndefined();
  });
  it('lowMemory: no prepacking, no arena', () => {
    const o = sessionOptions('cpu', true);
    expect(o.enableCpuMemArena).toBe(false);
    expect(o.extra).toEqual({ session: { disable_prepacking: '1' } });
  });
});
