// The CLI on ONNX input (built bin): a bad file is one typed line and a non-zero exit, nothing written; --no-special-tokens is accepted.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, FIXTURES, GPT2_DIR, tempDir } from '../helpers.js';

function run(args: readonly string[]): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}

describe('snnconvert on ONNX files', () => {
  it('a truncated .onnx: exit ≠ 0, one error line without a stack, no output', () => {
    const dir = tempDir('snn-cli-');
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(GPT2_DIR, f), join(dir, f));
    const bytes = readFileSync(join(GPT2_DIR, 'onnx', 'model.onnx'));
    writeFileSync(join(dir, 'model.onnx'), bytes.subarray(0, 1000));
    const r = run([join(dir, 'model.onnx'), '-o', join(dir, 'x.snn'), '-q']);
    expect(r.status).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error\[ONNX_INVALID\]: .* \/ at: .*model\.onnx \/ hint: /);
    expect(existsSync(join(dir, 'x.snn'))).toBe(false);
  });

  it('eval of an export with --ann-only --no-special-tokens gives the checkpoint\'s perplexity on a window', () => {
    const text = join(tempDir('snn-cli-'), 't.txt');
    writeFileSync(text, readFileSync(join(GPT2_DIR, 'heldout.txt')).subarray(0, 1024));
    const args = ['--ann-only', '--no-special-tokens', '--text', text, '--json', '-q'];
    const a = run(['eval', join(GPT2_DIR, 'onnx', 'model.onnx'), ...args]);
    const b = run(['eval', GPT2_DIR, ...args]);
    expect(a.status, a.stderr).toBe(0);
    expect((JSON.parse(a.stdout) as { ann: { ppl: number } }).ann.ppl).toBe((JSON.parse(b.stdout) as { ann: { ppl: number } }).ann.ppl);
  }, 60_000);

  it('an fp16 export (transformers.js model_fp16.onnx) converts: exit 0, the notice naming the casts on stderr', () => {
    const out = join(tempDir('snn-cli-'), 'x.snn');
    const r = run([join(FIXTURES, 'onnx-fp16', 'shakespeare-gpt2-model_fp16.onnx'), '--tokenizer', GPT2_DIR, '-o', out, '--calib-samples', '2', '--no-report']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[import\] notice: fp16 export: \d+ float16 initializers and \d+ float16 constants widened to float32 \(exact\), 9 Cast\(float16\) nodes removed, 9 Cast\(float32\) nodes removed \(at logits and 8 more outputs\); the ANN reference computes in float32 from the float16 weights/);
    expect(existsSync(join(out, 'meta.json'))).toBe(true);
  }, 240_000);
});
