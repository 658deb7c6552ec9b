// The CLI end to end (built bin): eval's JSON against eval.json, inspect, and one-line typed errors.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, GPT2_DIR, tempDir } from '../helpers.js';

function run(args: readonly string[]): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}

describe('snnconvert CLI', () => {
  it('eval --ann-only --json prints only JSON on stdout, with the perplexity of eval.json', () => {
    const ref = JSON.parse(readFileSync(join(GPT2_DIR, 'eval.json'), 'utf8')) as { ppl: number; tokens: number };
    const r = run(['eval', GPT2_DIR, '--ann-only', '--text', join(GPT2_DIR, 'heldout.txt'), '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { ann: { ppl: number }; snn: null; tokens: number; window: number };
    expect(out.tokens).toBe(ref.tokens);
    expect(out.window).toBe(128);
    expect(Math.abs(out.ann.ppl / ref.ppl - 1)).toBeLessThan(0.002);
    expect(out.snn).toBeNull();
  }, 120_000);

  it('convert then inspect: the bundle validates and lists its neuron sites', () => {
    const out = join(tempDir('snn-cli-'), 'm.snn');
    const c = run(['convert', GPT2_DIR, '-t', '4', '-o', out, '--calib-samples', '4', '--calib-length', '64', '--no-report', '-q']);
    expect(c.status).toBe(0);
    expect(c.stdout).toContain(`wrote ${out}`);
    const i = run(['inspect', out]);
    expect(i.status).toBe(0);
    expect(i.stdout).toContain('valid');
    expect(i.stdout).toContain('recipe faithful, T=4');
    expect(i.stdout).toContain('h.0.attn.q');
    const again = run(['convert', GPT2_DIR, '-o', out, '-q', '--no-report']);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/^error\[OUTPUT_EXISTS\]: .* \/ at: .* \/ hint: .*--force.*\n$/);
  }, 120_000);

  it.each([
    [['convert', '/nonexistent/model'], 'MODEL_NOT_FOUND'],
    [['convert', GPT2_DIR, '--recipe', 'magic', '-o', '/tmp/never.snn'], 'OPTION_INVALID'],
    [['convert', GPT2_DIR, '--calib-sampler', 'fp16', '-o', '/tmp/never.snn'], 'OPTION_INVALID'],
    [['convert', GPT2_DIR, '--calib-text', join(GPT2_DIR, 'heldout.txt'), '--calib-sampler', 'int8', '-o', '/tmp/never.snn'], 'OPTION_INVALID'],
    [['convert', 'some-org/not-cached-model', '--offline'], 'HUB_NOT_CACHED'],
    [['eval', GPT2_DIR, '--text', '/nonexistent.txt', '--ann-only'], 'TEXT_INVALID'],
    [['inspect', GPT2_DIR], 'BUNDLE_INVALID'],
  ])('%j fails with one line error[%s] and a non-zero exit', (args, code) => {
    const r = run(args);
    expect(r.status).not.toBe(0);
    // Progress notes may precede it on stderr; the error itself is one line, the last, with no stack.
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('error['))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(new RegExp(`^error\\[${code}\\]: .+ / hint: .+`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('eval --simulate events runs a rate bundle on the event reference: perplexity, agreement and KL equal the step graph\'s', () => {
    const out = join(tempDir('snn-cli-rate-'), 'r.snn');
    const c = run(['convert', GPT2_DIR, '--code', 'rate', '-t', '4', '-o', out, '--calib-samples', '4', '--calib-length', '64', '--no-report', '-q']);
    expect(c.status).toBe(0);
    const evalArgs = ['eval', out, '--text', join(GPT2_DIR, 'heldout.txt'), '--window', '32', '--max-windows', '2', '--json', '-q'];
    const steps = run(evalArgs);
    const events = run([...evalArgs, '--simulate', 'events']);
    expect(steps.status).toBe(0);
    expect(events.status, events.stderr).toBe(0);
    const [a, b] = [steps, events].map((r) => JSON.parse(r.stdout) as Record<string, unknown>);
    expect(a['tokens']).toBe(62); // 2 windows of 32 tokens, 31 predictions each
    expect((a['snn'] as { ppl: number }).ppl).toBeGreaterThan(1);
    for (const key of ['tokens', 'snn', 'kl', 'top1_agreement', 'ratio']) expect(b[key], key).toEqual(a[key]);
    const bad = run([...evalArgs, '--simulate', 'spiking']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/^error\[OPTION_INVALID\]: .*closed, steps, events/m);
  }, 240_000);

  it('a missing config.json is reported with the file, without a stack trace', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'model.safetensors'), '');
    const r = run(['convert', dir, '-o', join(dir, 'x.snn')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^error\[CONFIG_MISSING\]: .*config\.json/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
