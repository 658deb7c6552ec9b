// The CLI's input boundary: "did you mean" for a mistyped command, MODEL_NOT_FOUND for a missing path everywhere, a bundle given to convert.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { editDistance, nearestCommand } from '../../src/cli/did-you-mean.js';
import { convert } from '../../src/convert.js';
import { CLI, FIXTURES, snnRejection, tempDir } from '../helpers.js';

const COMMANDS = ['convert', 'eval', 'inspect', 'report', 'bench', 'generate', 'chat', 'test', 'serve'];

function run(args: readonly string[], cwd?: string): { stderr: string; status: number } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  return { stderr: r.stderr, status: r.status ?? -1 };
}

const lastLine = (s: string): string => s.trim().split('\n').at(-1) ?? '';

describe('did you mean', () => {
  it('edit distance counts an adjacent swap as one edit', () => {
    expect([editDistance('genrate', 'generate'), editDistance('covnert', 'convert'), editDistance('chta', 'chat'), editDistance('bert', 'test')]).toEqual([1, 1, 1, 2]);
  });

  it('suggests only near misses: one edit for short commands, two for longer ones; hub-like names are left alone', () => {
    expect(nearestCommand('genrate', COMMANDS)).toBe('generate');
    expect(nearestCommand('inpsect', COMMANDS)).toBe('inspect');
    expect(nearestCommand('evl', COMMANDS)).toBe('eval');
    for (const model of ['distilgpt2', 'gpt2', 'opt-125m', 'bert', 'llama', 'qwen2']) expect(nearestCommand(model, COMMANDS), model).toBeUndefined();
  });

  it('snnconvert genrate → one line OPTION_INVALID with "did you mean \'generate\'", without going to the hub', () => {
    const r = run(['genrate', 'x.snn']);
    expect(r.status).not.toBe(0);
    expect(lastLine(r.stderr)).toMatch(/^error\[OPTION_INVALID\]: .*'genrate' is not a command, nor a file or folder here; did you mean 'generate'\? .* \/ hint: .*ORG\/genrate/);
  }, 60_000);

  it('a local folder named like a typo is a model, and a bare hub id (distilgpt2) still goes to the hub', () => {
    const cwd = tempDir('snn-typo-');
    mkdirSync(join(cwd, 'genrate'));
    expect(lastLine(run(['genrate'], cwd).stderr)).toMatch(/^error\[CONFIG_MISSING\]: .*genrate/);
    const r = run(['distilgpt2', '--offline'], cwd);
    expect(lastLine(r.stderr)).toMatch(/^error\[HUB_NOT_CACHED\]: /);
  }, 60_000);
});

describe('a missing path is MODEL_NOT_FOUND everywhere', () => {
  it.each([
    [['inspect', '/nonexistent.snn']],
    [['inspect', '/nonexistent/bundle']],
    [['generate', '/nonexistent.snn', '--prompt', 'a']],
    [['eval', '/nonexistent.snn', '--text', join(FIXTURES, 'qwen2-dialogue', 'heldout.txt')]],
    [['convert', '/nonexistent/model']],
    [['report', '/nonexistent.snn']],
    [['test', '/nonexistent.snn']],
    [['bench', '/nonexistent.snn']],
    [['chat', '/nonexistent.snn']],
    [['serve', '/nonexistent.snn', '--port', '0']],
  ])('%j', (args) => {
    const r = run(args);
    expect(r.status).not.toBe(0);
    expect(lastLine(r.stderr)).toMatch(/^error\[MODEL_NOT_FOUND\]: model not found: no file or folder at '\/nonexistent/);
  }, 60_000);
});

describe('converting a bundle', () => {
  it('gets ALREADY_A_BUNDLE, with or without the .snn suffix, and writes nothing', async () => {
    const out = join(tempDir('snn-again-'), 'q.snn');
    await convert(join(FIXTURES, 'qwen2-dialogue'), { out, timesteps: 4, calibration: { samples: 2, length: 32 } });
    const renamed = join(tempDir('snn-renamed-'), 'plain-folder');
    cpSync(out, renamed, { recursive: true });
    for (const bundle of [out, renamed]) {
      const outDir = tempDir();
      const e = await snnRejection(convert(bundle, { out: join(outDir, 'again.snn') }));
      expect(e.code).toBe('ALREADY_A_BUNDLE');
      expect(e.message).toContain('already a converted .snn bundle');
      const r = run(['convert', bundle, '-o', join(outDir, 'again.snn')]);
      expect(lastLine(r.stderr)).toMatch(/^error\[ALREADY_A_BUNDLE\]: /);
      expect(readdirSync(outDir)).toEqual([]);
    }
  }, 120_000);
});
