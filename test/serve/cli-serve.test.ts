// `snnconvert serve` as a user runs it (built bin): the README's curl request answers, SIGTERM drains and exits 0, bad input exits non-zero in one line.
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers.js';
import { buildBundle } from './serve-helpers.js';

let bundle: string;
beforeAll(async () => { bundle = await buildBundle(); });

describe('snnconvert serve (CLI)', () => {
  let child: ReturnType<typeof spawn> | null = null;
  afterAll(() => { if (child && child.exitCode === null) child.kill('SIGKILL'); });

  it('answers the README request on 127.0.0.1, then drains an in-flight request on SIGTERM and exits 0', async () => {
    child = spawn(process.execPath, [CLI, 'serve', bundle, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child!.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child!.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    // curl localhost:PORT/v1/chat/completions -d '{...}' sends a form content type: the server must still read JSON.
    const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '{"messages":[{"role":"user","content":"Good morrow"}],"max_tokens":40}' });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    const inflight = fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'KING:', max_tokens: 40, temperature: 0 }) }).then((res) => res.json() as Promise<{ usage: { completion_tokens: number } }>);
    await new Promise((res) => setTimeout(res, 200));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect((await inflight).usage.completion_tokens).toBe(40);
    expect(await exited).toBe(0);
    expect(stderr).toContain('SIGTERM');
  }, 120_000);

  it('refuses a missing bundle with one error line and a non-zero exit', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', '/nonexistent/model.snn', '--port', '0'], { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error\[[A-Z_]+\]/);
  });

  it('refuses an unknown --overflow policy naming the valid ones', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', bundle, '--overflow', 'wrap'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('error[OPTION_INVALID]');
    expect(r.stderr).toContain('error, slide');
  });
});
