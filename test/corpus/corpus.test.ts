// Every malformed input of the corpus (test/corpus/make.mjs), through the CLI and the API: one typed line, non-zero exit,
// no stack, nothing written, no process left behind, within a time bound.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnnError } from '../../src/errors/index.js';
import { loadTokenizer } from '../../src/tokenizer/tokenizer.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { FIXTURES, GPT2_DIR } from '../helpers.js';
import { API } from './api.js';
// @ts-expect-error -- a plain .mjs script (runnable on its own), no type declarations
import { makeCorpus } from './make.mjs';
import { diffSnapshots, pool, runCli, snapshot, type CliRun } from './run-cli.js';

interface CorpusCase {
  readonly id: string;
  readonly group: string;
  readonly what: string;
  readonly dir: string;
  readonly cli: readonly string[];
  readonly stdin?: string;
  readonly api: { readonly fn: string; readonly args: readonly unknown[] };
  readonly expect: readonly string[];
  readonly out?: string;
  /** What the line must say, for some cases. */
  readonly message?: string;
}

/** Per case, CLI and API each (a 10 MB prompt is tokenized in ~2 s on this machine). */
const TIME_BOUND_MS = 30_000;
const CLI_WIDTH = 2;
const LINE = /^error\[([A-Z_]+)\]: [^\n]+ \/ hint: [^\n]+$/;
const STACK = /^\s+at\s|\.(?:js|ts|mjs):\d+:\d+/m;

const root = mkdtempSync(join(tmpdir(), 'snn-corpus-'));
const hfHome = mkdtempSync(join(tmpdir(), 'snn-corpus-hf-'));
const cases: CorpusCase[] = makeCorpus(root) as CorpusCase[];
const cli = new Map<string, { run: CliRun; changes: string[] }>();
const fixtureBefore = snapshot(GPT2_DIR);
const env = { ...process.env, HF_HOME: hfHome, HF_HUB_OFFLINE: '1', NO_COLOR: '1' };
const savedEnv = { HF_HOME: process.env['HF_HOME'], HF_HUB_OFFLINE: process.env['HF_HUB_OFFLINE'] };

beforeAll(async () => {
  process.env['HF_HOME'] = hfHome; // the API cases must not see a real cache or the network either
  process.env['HF_HUB_OFFLINE'] = '1';
  await pool(cases, CLI_WIDTH, async (c) => {
    const before = snapshot(c.dir);
    const run = await runCli(c.cli, { cwd: c.dir, timeoutMs: TIME_BOUND_MS, env, ...(c.stdin !== undefined ? { stdin: c.stdin } : {}) });
    cli.set(c.id, { run, changes: diffSnapshots(before, snapshot(c.dir)) });
  });
  const slowest = [...cli.entries()].sort((a, b) => b[1].run.ms - a[1].run.ms)[0];
  if (slowest) console.log(`corpus: ${cases.length} cases through the CLI; slowest ${slowest[0]} in ${Math.round(slowest[1].run.ms)} ms (bound ${TIME_BOUND_MS} ms)`);
}, cases.length * TIME_BOUND_MS);

afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  rmSync(root, { recursive: true, force: true });
  rmSync(hfHome, { recursive: true, force: true });
});

describe('the malformed-input corpus', () => {
  it('has at least 200 cases over every input kind', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
    const groups = new Set(cases.map((c) => c.group));
    for (const g of ['hf-config', 'safetensors', 'hf-shards', 'tokenizer', 'chat-template', 'onnx', 'bundle', 'prompt', 'calibration-text', 'eval-text', 'cli-flags']) expect(groups).toContain(g);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    for (const c of cases) for (const code of c.expect) expect(Object.keys(ERROR_CODES), `${c.id} expects an unknown code`).toContain(code);
  });

  describe.each(cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    it(`CLI: ${c.what} → one typed line, non-zero exit, nothing written, nothing left running`, () => {
      const result = cli.get(c.id);
      expect(result, 'the CLI run did not complete').toBeDefined();
      const { run, changes } = result!;
      expect(run.timedOut, `over ${TIME_BOUND_MS} ms`).toBe(false);
      expect(run.leftBehind, 'a process of its group outlived it').toBe(false);
      expect(run.code, `exit ${run.code} (signal ${run.signal}); stderr: ${run.stderr}`).not.toBe(0);
      expect(run.code).not.toBeNull();
      expect(run.stderr, 'a stack trace without --verbose').not.toMatch(STACK);
      const errorLines = run.stderr.split('\n').filter((l) => l.startsWith('error'));
      expect(errorLines, run.stderr).toHaveLength(1);
      const m = LINE.exec(errorLines[0]!);
      expect(m, `not one typed line: ${errorLines[0]}`).not.toBeNull();
      expect(c.expect, errorLines[0]).toContain(m![1]);
      if (c.message) expect(errorLines[0]).toContain(c.message);
      expect(changes, 'files appeared or changed in the case folder').toEqual([]);
    });

    it(`API: ${c.api.fn}(…) rejects with a typed SnnError`, async () => {
      const fn = API[c.api.fn];
      expect(fn, `no API runner for ${c.api.fn}`).toBeDefined();
      const before = snapshot(c.dir);
      const started = performance.now();
      let error: unknown;
      try {
        await (fn as (...a: readonly unknown[]) => Promise<unknown>)(...c.api.args);
      } catch (e) {
        error = e;
      }
      expect(performance.now() - started).toBeLessThan(TIME_BOUND_MS);
      expect(error, 'the call succeeded').toBeDefined();
      expect(error, String((error as Error)?.stack ?? error)).toBeInstanceOf(SnnError);
      const e = error as SnnError;
      expect(c.expect, e.render()).toContain(e.code);
      if (c.message) expect(e.render()).toContain(c.message);
      expect(e.render()).not.toContain('\n');
      expect(e.hint.length).toBeGreaterThan(0);
      expect(diffSnapshots(before, snapshot(c.dir)), 'files appeared or changed in the case folder').toEqual([]);
    }, TIME_BOUND_MS + 5_000);
  });

  it('accepts the inputs the cases were made from (positive controls: the corpus refuses damage, not everything)', async () => {
    const base = join(root, '_base', 'base.snn');
    await expect(API['loadBundle']!(...([base] as never[]))).resolves.toBeUndefined();
    await expect(API['generate']!(...([base, { text: 'ROMEO:' }, { maxNewTokens: 2 }] as never[]))).resolves.toBeUndefined();
    const chat = join(root, '_base', 'chat');
    mkdirSync(chat);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(GPT2_DIR, f), join(chat, f));
    writeFileSync(join(chat, 'chat_template.jinja'), "{% for i in range(2) %}{% endfor %}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}");
    await expect(API['chatTemplate']!(...([chat, 'hello'] as never[]))).resolves.toBeUndefined();
    // A real template (SmolLM2's ChatML, with its default system turn) renders: 31 tokens for one short user turn.
    const smol = await loadTokenizer(join(FIXTURES, 'smollm2-135m-instruct-config-tokenizer'));
    expect(smol.applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: true })).toHaveLength(31);
    const run = await runCli(['inspect', base], { cwd: root, timeoutMs: TIME_BOUND_MS, env });
    expect(run.code, run.stderr).toBe(0);
  }, 4 * TIME_BOUND_MS);

  it('adds the stack with --verbose (so its absence above means something)', async () => {
    const c = cases.find((x) => x.id === 'bundle-meta-garbage')!;
    const run = await runCli([...c.cli, '--verbose'], { cwd: c.dir, timeoutMs: TIME_BOUND_MS, env });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error\[BUNDLE_INVALID\]/);
    expect(run.stderr).toMatch(STACK);
  });

  it('left the fixture model untouched', () => {
    expect(diffSnapshots(fixtureBefore, snapshot(GPT2_DIR))).toEqual([]);
  });
});
