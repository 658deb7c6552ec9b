// eval adds the BOS a Llama-family tokenizer adds by default (as transformers does), and --no-special-tokens drops it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importHfModel } from '../../src/import/hf/index.js';
import { loadTokenizer } from '../../src/tokenizer/tokenizer.js';
import { evaluate } from '../../src/runtime/evaluate.js';
import { HfAnnModel } from '../../src/open/hf-ann.js';
import { CLI, FIXTURES, LLAMA_DIR, tempDir } from '../helpers.js';

function evalPpl(model: string, text: string, extra: readonly string[] = []): number {
  const r = spawnSync(process.execPath, [CLI, 'eval', model, '--ann-only', '--text', text, '--window', '64', '--json', '-q', ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { ann: { ppl: number } }).ann.ppl;
}

describe('special tokens in eval', () => {
  it('a Llama whose tokenizer adds BOS is evaluated on [BOS, …text]; --no-special-tokens on the text alone', async () => {
    const dir = tempDir('snn-bos-');
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(LLAMA_DIR, f), join(dir, f));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(FIXTURES, 'llama-bos-tokenizer', f), join(dir, f));
    const text = join(dir, 't.txt');
    const bytes = readFileSync(join(LLAMA_DIR, 'heldout.txt')).subarray(0, 64);
    writeFileSync(text, bytes);
    const withBos = evalPpl(dir, text);
    const without = evalPpl(dir, text, ['--no-special-tokens']);
    // The reference: the same model evaluated in-process on ids built by hand.
    const model = new HfAnnModel(importHfModel(dir), await loadTokenizer(dir), 'cpu');
    const ref = async (ids: number[]) => (await evaluate(model, ids, { window: 64, annOnly: true })).ann.ppl;
    expect(withBos).toBeCloseTo(await ref([256, ...bytes.subarray(0, 63)]), 10);
    expect(without).toBeCloseTo(await ref([...bytes]), 10);
    expect(withBos).not.toBe(without);
    await model.release();
  }, 60_000);
});
