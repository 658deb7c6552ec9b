// Intra-op threads: chosen by setThreads, SNNCONVERT_THREADS or the physical cores; refused when not a positive
// integer; and results that do not depend on them (logits bit for bit at 1 and 2 threads, ANN and closed form).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { parseThreads } from '../../src/options/values.js';
import { createSession, sessionOptions, sessionThreads, setThreads } from '../../src/runtime/session.js';
import { CLI, GPT2_DIR, tempDir } from '../helpers.js';
import { bytes, FAST, rejection } from './tsp-helpers.js';

afterEach(() => {
  setThreads(null);
  delete process.env['SNNCONVERT_THREADS'];
});

describe('threads per session', () => {
  it('default: at least one, at most the CPUs this process may use; SNNCONVERT_THREADS, then setThreads, override it', async () => {
    const { availableParallelism } = await import('node:os');
    expect(sessionThreads()).toBeGreaterThanOrEqual(1);
    expect(sessionThreads()).toBeLessThanOrEqual(availableParallelism());
    process.env['SNNCONVERT_THREADS'] = '3';
    expect(sessionThreads()).toBe(3);
    expect(sessionOptions('cpu').intraOpNumThreads).toBe(3);
    setThreads(1);
    expect(sessionThreads()).toBe(1);
    setThreads(null);
    expect(sessionThreads()).toBe(3);
  });

  it.each([['0'], ['-2'], ['two'], ['1.5'], ['4096'], [''] ])('refuses %j with OPTION_INVALID naming where it came from', async (value) => {
    const err = await rejection(() => parseThreads(value));
    expect(err.code).toBe('OPTION_INVALID');
    expect(err.at).toBe('--threads');
    process.env['SNNCONVERT_THREADS'] = value === '' ? 'x' : value;
    const fromEnv = await rejection(() => sessionThreads());
    expect(fromEnv.code).toBe('OPTION_INVALID');
    expect(fromEnv.at).toBe('SNNCONVERT_THREADS');
    expect((await rejection(() => setThreads(Number(value) || 0))).code).toBe('OPTION_INVALID');
  });

  it('accepts a positive integer, from the command line (string) or the API (number)', () => {
    expect(parseThreads('4')).toBe(4);
    expect(parseThreads(2)).toBe(2);
  });

  it('CLI: --threads before or after the command; a bad value or SNNCONVERT_THREADS exits non-zero with one typed line', () => {
    const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
    for (const args of [['--threads', '0', 'inspect', GPT2_DIR], ['inspect', GPT2_DIR, '--threads', 'many']]) {
      const p = run(args);
      expect(p.status).not.toBe(0);
      expect(p.stderr.trim().split('\n')).toHaveLength(1);
      expect(p.stderr).toMatch(/^error\[OPTION_INVALID\].*threads must be a positive integer.* \/ at: --threads/);
    }
    const env = run(['inspect', GPT2_DIR], { SNNCONVERT_THREADS: 'all' });
    expect(env.status).not.toBe(0);
    expect(env.stderr).toMatch(/^error\[OPTION_INVALID\].* \/ at: SNNCONVERT_THREADS/);
    const ok = run(['--threads', '1', 'generate', GPT2_DIR, '--ann-only', '--prompt', 'To', '--max-new-tokens', '2']);
    expect(ok.status, ok.stderr).toBe(0);
  });
});

describe('results do not depend on the thread count', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = (await convert(GPT2_DIR, { ...FAST, timesteps: 8, out: join(tempDir('snn-threads-'), 'm.snn') })).bundlePath;
  });

  /** Logits of a 2-row, 48-token prefill, then of one decode step on its cache. */
  async function logits(file: string, threads: number): Promise<Float32Array[]> {
    setThreads(threads);
    const session = await createSession(join(bundle, file));
    try {
      const B = 2, S = 48;
      const text = bytes('To be, or not to be, that is the question: whether tis nobler in the mind to suffer');
      const ids = BigInt64Array.from({ length: B * S }, (_, i) => BigInt(text[(i * 7) % text.length]!));
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', ids, [B, S]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(B * S).fill(1n), [B, S]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: B * S }, (_, i) => BigInt(i % S)), [B, S]),
      };
      const pastNames = session.inputNames.filter((n) => n.startsWith('past_key_values.'));
      const meta = session.inputMetadata as unknown as { name: string; shape: (number | string)[] }[];
      for (const name of pastNames) {
        const shape = meta.find((m) => m.name === name)!.shape.map((d) => (typeof d === 'number' ? d : 0));
        feeds[name] = new ort.Tensor('float32', new Float32Array(0), [B, shape[1]!, 0, shape[3]!]);
      }
      const first = await session.run(feeds);
      const step: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', new BigInt64Array([65n, 66n]), [B, 1]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(B * (S + 1)).fill(1n), [B, S + 1]),
        position_ids: new ort.Tensor('int64', new BigInt64Array([BigInt(S), BigInt(S)]), [B, 1]),
      };
      for (const name of pastNames) step[name] = first[name.replace('past_key_values', 'present')]!;
      const second = await session.run(step);
      return [first['logits']!.data as Float32Array, second['logits']!.data as Float32Array];
    } finally {
      await session.release();
    }
  }

  it.each([['model.onnx (closed form, integer synapses)'], ['ann.onnx (the source ANN form)']])('%s: logits at 1 and 2 threads are equal bit for bit', async (label) => {
    const file = label.split(' ')[0]!;
    const [one, two] = [await logits(file, 1), await logits(file, 2)];
    for (let k = 0; k < 2; k++) {
      expect(one[k]!.length).toBeGreaterThan(0);
      expect(Buffer.from(two[k]!.buffer).equals(Buffer.from(one[k]!.buffer))).toBe(true);
    }
  });
});
