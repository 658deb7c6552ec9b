// Temp paths: tracked while they exist, removed on an interrupt; a Ctrl-C mid-conversion leaves no staged weights and no half-written bundle.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir, removeTrackedTemps, trackTemp, trackedTemps } from '../../src/util/temp-paths.js';
import { CLI, GPT2_DIR, halfPrecisionCopy, tempDir } from '../helpers.js';

describe('temp paths', () => {
  it('tracks a temp folder until it is removed, and removes what is still tracked', () => {
    const parent = tempDir('snn-temps-');
    const a = makeTempDir('a-', parent);
    const b = makeTempDir('b-', parent);
    expect(trackedTemps()).toEqual(expect.arrayContaining([a.path, b.path]));
    a.remove();
    expect(existsSync(a.path)).toBe(false);
    expect(trackedTemps()).not.toContain(a.path);
    writeFileSync(join(b.path, 'x'), 'x');
    const file = join(parent, 'loose.tmp');
    writeFileSync(file, 'x');
    const untrack = trackTemp(file);
    removeTrackedTemps();
    expect(existsSync(b.path)).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect(trackedTemps()).toEqual([]);
    untrack();
  });

  // Staged weights exist from sampling on; the bundle's temp folder while the report is written into it.
  it.each([
    ['SIGINT', 130, 'sampling calibration text', '512'],
    ['SIGTERM', 143, 'sampling calibration text', '512'],
    ['SIGINT', 130, '[report]', '8'],
  ] as const)('convert interrupted by %s (exit %i) once it prints "%s" leaves nothing behind', async (signal, code, when, samples) => {
    const tmp = tempDir('snn-tmpdir-');
    const outDir = tempDir('snn-out-');
    const out = join(outDir, 'm.snn');
    // 512 windows: the run is still sampling when the signal arrives.
    const child = spawn(process.execPath, [CLI, 'convert', halfPrecisionCopy(GPT2_DIR, 'BF16'), '-o', out, '--calib-samples', samples, '--calib-length', '128'], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sent = false;
    const staged = () => readdirSync(tmp).filter((f) => f.startsWith('snnconvert-f32-'));
    const exit = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (!sent && stderr.includes(when)) {
          sent = true;
          expect(staged()).toHaveLength(1);
          if (when === '[report]') expect(readdirSync(outDir).filter((f) => f.startsWith('.m.snn.tmp-'))).toHaveLength(1);
          child.kill(signal);
        }
      });
      child.on('close', (c) => resolve(c));
    });
    expect(sent).toBe(true);
    expect(exit).toBe(code);
    expect(stderr).toContain(`interrupted (${signal}): removed`);
    expect(readdirSync(tmp).filter((f) => f.startsWith('snnconvert'))).toEqual([]);
    expect(readdirSync(outDir)).toEqual([]);
  }, 120_000);
});
