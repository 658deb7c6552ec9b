// `snnconvert generate` and `snnconvert chat` end to end through the CLI entry (in process, stdin scripted).
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { convert } from '../../src/convert.js';
import { Conversation } from '../../src/runtime/conversation.js';
import { loadHfAnn } from '../../src/open/hf-ann.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import { GPT2_DIR, tempDir } from '../helpers.js';
import { bytes, FAST } from './tsp-helpers.js';

interface Run { readonly stdout: string; readonly stderr: string; readonly exitCode: number; readonly writes: number }

/** Runs the CLI with `args`, stdin fed from `input` lines, and captures what it writes. */
async function cli(args: readonly string[], input: readonly string[] = []): Promise<Run> {
  let stdout = '';
  let stderr = '';
  let writes = 0;
  const text = (chunk: unknown) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => { stdout += text(chunk); writes += 1; return true; });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => { stderr += text(chunk); return true; });
  const stdin = Object.getOwnPropertyDescriptor(process, 'stdin');
  Object.defineProperty(process, 'stdin', { value: Readable.from(input.map((l) => `${l}\n`)), configurable: true });
  const previous = process.exitCode;
  process.exitCode = 0;
  try {
    await main(['node', 'snnconvert', ...args]);
    return { stdout, stderr, exitCode: Number(process.exitCode ?? 0), writes };
  } finally {
    process.exitCode = previous;
    out.mockRestore();
    err.mockRestore();
    if (stdin) Object.defineProperty(process, 'stdin', stdin);
  }
}

afterEach(() => { vi.restoreAllMocks(); });

describe('snnconvert generate', () => {
  it('streams the greedy continuation of the embedded model with --ann-only, token by token', async () => {
    const run = await cli(['generate', '--ann-only', '--prompt', 'ROMEO:', '--temperature', '0', '--max-new-tokens', '24']);
    expect(run.exitCode).toBe(0);
    const model = await loadHfAnn(GPT2_DIR);
    let expected = 'ROMEO:';
    for await (const p of new TemporalSpikeProcessor(model).generate(bytes('ROMEO:'), { maxNewTokens: 24 })) expected += p.text;
    await model.release();
    expect(run.stdout).toBe(expected.endsWith('\n') ? expected : `${expected}\n`);
    expect(run.writes).toBeGreaterThan(10); // streamed, not printed at the end
    expect(run.stderr).toMatch(/\[24 tokens in .* tok\/s, ANN\]/);
  });

  it('samples reproducibly with --seed', async () => {
    const args = ['generate', '--ann-only', '--prompt', 'JULIET:', '--temperature', '1', '--top-k', '20', '--top-p', '0.9', '--repetition-penalty', '1.2', '--max-new-tokens', '20', '-q'];
    const a = await cli([...args, '--seed', '5']);
    const b = await cli([...args, '--seed', '5']);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.length).toBeGreaterThan(5);
  });

  it('runs the SNN of a bundle', async () => {
    const { bundlePath } = await convert(GPT2_DIR, { ...FAST, timesteps: 4, out: join(tempDir('snn-cli-gen-'), 'm.snn') });
    const run = await cli(['generate', bundlePath, '--prompt', 'ROMEO:', '--max-new-tokens', '8']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/\[8 tokens in .*SNN T=4 \(faithful\)\]/);
  });

  it('prints one typed error line and exits non-zero on an empty prompt, a HF model without --ann-only, or a bad option', async () => {
    const empty = await cli(['generate', '--ann-only', '--prompt', '']);
    expect(empty.exitCode).toBe(1);
    expect(empty.stderr).toMatch(/^error\[INPUT_INVALID\]: .*empty prompt.*\n$/);
    const needsAnn = await cli(['generate', '--prompt', 'x']);
    expect(needsAnn.stderr).toMatch(/^error\[OPTION_INVALID\]: .*--ann-only/);
    const badTopP = await cli(['generate', '--ann-only', '--prompt', 'x', '--top-p', '2']);
    expect(badTopP.stderr).toMatch(/^error\[OPTION_INVALID\]: invalid option: --top-p must be in \(0, 1\].* \/ at: --top-p/);
    expect(badTopP.exitCode).toBe(1);
  });
});

describe('snnconvert chat', () => {
  it('answers each stdin line through the cache, and /reset starts over (same reply to the same first message)', async () => {
    const run = await cli(['chat', '--ann-only', '--temperature', '0', '--max-new-tokens', '16'], ['Good morrow.', 'What news?', '/reset', 'Good morrow.', '/exit', 'never read']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain('plain User:/Assistant: transcript');
    expect(run.stderr).toContain('(conversation reset)');
    // The same turns through the API: each reply is printed as it streams, then a newline unless it ends with one.
    const model = await loadHfAnn(GPT2_DIR);
    const chat = new Conversation(new TemporalSpikeProcessor(model), { maxNewTokens: 16 });
    const replies: string[] = [];
    for (const message of ['Good morrow.', 'What news?']) {
      let reply = '';
      for await (const p of chat.say(message)) reply += p.text;
      replies.push(reply);
    }
    await model.release();
    expect(replies[0]!.trim().length).toBeGreaterThan(0);
    expect(replies[1]).not.toBe(replies[0]);
    const line = (r: string) => (r.endsWith('\n') ? r : `${r}\n`);
    expect(run.stdout).toBe(line(replies[0]!) + line(replies[1]!) + line(replies[0]!));
  });

  it('reports a bad message and goes on with the next one', async () => {
    const run = await cli(['chat', '--ann-only', '--max-new-tokens', '4', '-q'], ['x'.repeat(200), 'Hi']);
    expect(run.stderr).toMatch(/error\[CONTEXT_OVERFLOW\]/);
    expect(run.stdout.split('\n').filter(Boolean)).toHaveLength(1);
  });
});
