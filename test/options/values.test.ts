// Option values are parsed once, at the boundary: each parser accepts exactly its valid values and names them when refusing.
import { describe, expect, it } from 'vitest';
import { parseCode, parseDevice, parseExecution, parseRecipe, parseSamplerLinears, parseTimesteps } from '../../src/options/values.js';
import { snnErrorOf } from '../helpers.js';

describe('option values', () => {
  it('T: an integer 1–1024 from a number or a decimal string; anything else is OPTION_INVALID at the flag given', () => {
    expect(parseTimesteps(7)).toBe(7);
    expect(parseTimesteps(' 16 ')).toBe(16);
    expect(parseTimesteps(1024)).toBe(1024);
    for (const bad of [0, -3, 1.5, 1025, '4.0', '0x8', '', null, undefined, '7,8']) {
      const e = snnErrorOf(() => parseTimesteps(bad, '--timesteps-sweep'));
      expect(e.code, String(bad)).toBe('OPTION_INVALID');
      expect(e.at).toBe('--timesteps-sweep');
    }
  });

  it.each([
    ['device', parseDevice, ['cpu', 'webgpu', 'cuda', 'auto'], 'tpu'],
    ['code', parseCode, ['weighted', 'rate'], 'binary'],
    ['recipe', parseRecipe, ['faithful', 'stac', 'exact'], 'fast'],
    ['execution', parseExecution, ['closed', 'steps'], 'step'],
    ['calibration sampler', parseSamplerLinears, ['int8', 'float'], 'fp16'],
  ] as const)('%s: the valid values pass through; another is OPTION_INVALID listing them', (_what, parse, valid, bad) => {
    for (const v of valid) expect(parse(v)).toBe(v);
    const e = snnErrorOf(() => parse(bad));
    expect(e.code).toBe('OPTION_INVALID');
    expect(e.message).toContain(`(valid: ${valid.join(', ')})`);
  });

  it('an absent device is the CPU', () => {
    expect(parseDevice(undefined)).toBe('cpu');
  });
});
