// snnconvert bench: ANN vs SNN prefill/decode in one run, lengths capped at the context, and the conversion measured in a child.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBench, type BenchResult } from '../../src/bench/bench.js';
import { capLengths } from '../../src/bench/throughput.js';
import { convert } from '../../src/convert.js';
import { CLI, tempDir } from '../helpers.js';

describe('snnconvert bench', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = (await convert(undefined, { calibration: { samples: 8, length: 64 }, out: join(tempDir('snn-bench-'), 'model.snn'), timesteps: 4 })).bundlePath;
  });

  it('caps lengths at the context and merges those that cap to the same length', () => {
    expect(capLengths([512, 32, 128], 128)).toEqual([{ seq: 32, requested: [32], capped: false }, { seq: 128, requested: [128, 512], capped: true }]);
    expect(capLengths([32, 128, 512], 1024)).toEqual([32, 128, 512].map((n) => ({ seq: n, requested: [n], capped: false })));
  });

  it('times prefill and decode of the ANN and the SNN in the same run, with SNN/ANN ratios', async () => {
    const t0 = performance.now();
    const r = await runBench(bundle, { lengths: [16, 200], reps: 1, decodeSteps: 4, source: false });
    const wall = (performance.now() - t0) / 1000; // every timed part happened inside this call
    expect(r.model).toMatchObject({ arch: 'gpt2', recipe: 'faithful', timesteps: 4, contextLength: 128 });
    expect(r.lengths.map((l) => [l.seq, l.capped, l.requested])).toEqual([[16, false, [16]], [128, true, [200]]]);
    for (const l of r.lengths) {
      expect(l.decode.steps).toBe(4);
      for (const p of [l.prefill, l.decode]) {
        for (const side of [p.ann, p.snn]) {
          expect(side.seconds).toBeGreaterThan(0);
          expect(side.seconds).toBeLessThan(wall);
        }
        expect(p.ratio).toBeCloseTo(p.snn.tokensPerSecond / p.ann.tokensPerSecond, 10);
        expect(p.snn.rssPeakBytes).toBeGreaterThanOrEqual(p.snn.rssBeforeBytes);
      }
      expect(l.prefill.ann.tokensPerSecond).toBeCloseTo(l.seq / l.prefill.ann.seconds, 6);
      expect(l.prefill.snn.tokensPerSecond).toBeCloseTo(l.seq / l.prefill.snn.seconds, 6);
    }
    expect(r.conversion).toEqual({ skipped: 'not requested (--no-conversion)' });
    expect(r.machine.nproc).toBeGreaterThanOrEqual(1);
    expect(r.machine.nproc).toBeLessThanOrEqual(cpus().length); // usable CPUs, never more than the machine has
  });

  it('prints JSON alone on stdout with --json, the conversion re-run in a child process with its peak RSS', () => {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, [CLI, 'bench', bundle, '--json', '--lengths', '16', '--reps', '1', '--decode-steps', '2'], { encoding: 'utf8', timeout: 110_000 });
    const wall = (performance.now() - t0) / 1000;
    expect(p.status, p.stderr).toBe(0);
    const r = JSON.parse(p.stdout) as BenchResult;
    expect(r.lengths).toHaveLength(1);
    if ('skipped' in r.conversion) throw new Error(`conversion skipped: ${r.conversion.skipped}`);
    // Nested durations: the report inside convert(), convert() inside its child, the child inside this bench run.
    expect(r.conversion.seconds).toBeLessThan(wall);
    expect(r.conversion.convertSeconds).toBeLessThanOrEqual(r.conversion.seconds);
    expect(r.conversion.reportSeconds).toBeGreaterThan(0);
    expect(r.conversion.reportSeconds!).toBeLessThan(r.conversion.convertSeconds);
    expect(r.conversion.peakRssBytes).toBeGreaterThan(50 * 2 ** 20);
    expect(r.conversion.command).toMatch(/--recipe faithful --code weighted --timesteps 4 --threshold max --calib-samples 8 --calib-length 64/);
  });
});
