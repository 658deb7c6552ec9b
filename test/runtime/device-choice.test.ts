// A loaded model knows its device; `--device auto` keeps why it passed over each provider, and the CLI shows it with --verbose.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { autoCandidates } from '../../src/runtime/device.js';
import { CLI, tempDir } from '../helpers.js';

describe('device of a loaded bundle', () => {
  let path: string;
  let auto: Bundle;
  beforeAll(async () => {
    path = (await convert(undefined, { calibration: { samples: 8, length: 64 }, out: join(tempDir('snn-device-'), 'm.snn') })).bundlePath;
    auto = await loadBundle(path, { device: 'auto' });
  });
  afterAll(async () => { await auto?.release(); });

  it('cpu asked, cpu reported, nothing skipped', async () => {
    const b = await loadBundle(path, { device: 'cpu' });
    expect(b.device).toBe('cpu');
    expect(b.deviceSkips).toEqual([]);
    await b.release();
  });

  it('auto reports the device it resolved to, and for every candidate before it, onnxruntime\'s reason', () => {
    const candidates = autoCandidates();
    const at = candidates.indexOf(auto.device as (typeof candidates)[number]);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(auto.deviceSkips.map((s) => s.device)).toEqual(candidates.slice(0, at));
    for (const s of auto.deviceSkips) expect(s.reason, s.device).toMatch(new RegExp(`could not use ${s.device}: \\S`));
  });

  it('the CLI prints the skipped providers with --verbose only', () => {
    const run = (...extra: string[]) => spawnSync(process.execPath, [CLI, 'generate', path, '--prompt', 'RO', '--max-new-tokens', '2', '--device', 'auto', ...extra], { encoding: 'utf8' });
    const quiet = run();
    const verbose = run('--verbose');
    expect(quiet.status).toBe(0);
    expect(verbose.status).toBe(0);
    expect(quiet.stderr).not.toContain('skipped');
    for (const s of auto.deviceSkips) expect(verbose.stderr).toContain(`--device auto: skipped ${s.device}: `);
  });
});
