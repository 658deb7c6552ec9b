// Calibration plan: windows up to the context by default, positions left out recorded, budgets checked before work.
import { describe, expect, it } from 'vitest';
import { CALIBRATION_WINDOW_BUDGET, MAX_CALIBRATION_TOKENS, calibrationPlan, windowBytes } from '../../src/calibrate/plan.js';
import { isSnnError } from '../../src/errors/index.js';
import { importHfModel } from '../../src/import/hf/index.js';
import { runRecipe } from '../../src/passes/pipeline.js';
import { GPT2_DIR } from '../helpers.js';

const { graph } = runRecipe(importHfModel(GPT2_DIR).graph, 'faithful', 8, { headroom: 1 });
const FREE = 8 * 2 ** 30;

function codeOf(f: () => unknown): string | false {
  try { f(); return false; } catch (e) { return isSnnError(e) && e.code; }
}

describe('calibrationPlan', () => {
  it('runs windows over the whole context by default: nothing uncovered', () => {
    const p = calibrationPlan(graph, { samples: 32, freeBytes: FREE });
    expect(p).toMatchObject({ context: 128, length: 128, uncovered: null, why: null });
  });

  it('records the positions a shorter --calib-length leaves out', () => {
    const p = calibrationPlan(graph, { samples: 4, length: 100, freeBytes: FREE });
    expect(p.uncovered).toBe('100–127');
    expect(p.why).toContain('--calib-length 100');
  });

  it('counts one float per site channel and position plus one layer of attention scores (hand count)', () => {
    // 4 layers × (ln_1 128 + Q, K, V 3 × 128 + attn out 128 + ln_2 128 + mlp act 512) + ln_f 128 = 4 × 1280 + 128 channels.
    const channels = graph.nodes.filter((n) => n.op === 'Neuron').reduce((a, n) => a + graph.weights.get(n.weights['threshold']!)!.shape[0]!, 0);
    expect(windowBytes(graph, 10)).toBe(4 * (channels * 10 + 4 * 100));
  });

  it('a context whose window exceeds the budget is calibrated on the longest window that fits, the rest recorded', () => {
    const long = { ...graph, spec: { ...graph.spec, maxPositions: 65536 } };
    const p = calibrationPlan(long, { samples: 2, freeBytes: 64 * 2 ** 30 });
    expect(p.length).toBeLessThan(65536);
    expect(p.windowBytes).toBeLessThanOrEqual(CALIBRATION_WINDOW_BUDGET);
    expect(p.uncovered).toBe(`${p.length}–65535`);
    expect(p.why).toContain('budget');
  });

  it('refuses, before any work, more calibration tokens than the budget, and accepts exactly the budget', () => {
    expect(codeOf(() => calibrationPlan(graph, { samples: MAX_CALIBRATION_TOKENS / 64 + 1, length: 64, freeBytes: FREE }))).toBe('CALIBRATION_BUDGET');
    expect(calibrationPlan(graph, { samples: MAX_CALIBRATION_TOKENS / 64, length: 64, freeBytes: FREE }).samples).toBe(MAX_CALIBRATION_TOKENS / 64);
  });

  it('refuses, before any work, a length beyond the context, a window the machine cannot hold, and non-positive counts', () => {
    expect(codeOf(() => calibrationPlan(graph, { samples: 4, length: 129, freeBytes: FREE }))).toBe('OPTION_INVALID');
    expect(codeOf(() => calibrationPlan(graph, { samples: 4, length: 128, freeBytes: 2 ** 20 }))).toBe('CALIBRATION_BUDGET');
    expect(codeOf(() => calibrationPlan(graph, { samples: 0, freeBytes: FREE }))).toBe('OPTION_INVALID');
    try { calibrationPlan(graph, { samples: 4, length: 129, freeBytes: FREE }); } catch (e) { expect((e as Error).message).toContain('context of 128'); }
  });
});
