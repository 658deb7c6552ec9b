// Session memory modes: `lowMemory` drops prepacking and the arena; calibration keeps the arena (reused buffers),
// which changes no value: the sampling text and thresholds are those of the arena-less session.
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
  it('lowMemory with the arena kept: no prepacking, arena on', () => {
    const o = sessionOptions('cpu', true, [], true);
    expect(o.enableCpuMemArena).toBe(true);
    expect(o.extra).toEqual({ session: { disable_prepacking: '1' } });
  });
});
