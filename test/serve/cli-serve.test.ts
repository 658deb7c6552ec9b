// `snnconvert serve` as a user runs it (built bin): the README's curl request answers, SIGTERM drains and exits 0, bad input exits non-zero in one line.
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, tempDir } from '../helpers.js';
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
    // A form content type (curl -d without -H) is refused: a web page could send one cross-site.
    const form = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '{"messages":[{"role":"user","content":"Good morrow"}],"max_tokens":40}' });
    expect(form.status).toBe(415);
    const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages":[{"role":"user","content":"Good morrow"}],"max_tokens":40}' });
    expect(r.status).toBe(200);
    // The device the CLI opened the model on is the one /health reports.
    expect(((await (await fetch(`${url}/health`)).json()) as { device: string }).device).toBe('cpu');
    const body = (await r.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    const inflight = fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'KING:', max_tokens: 40, temperature: 0 }) }).then((res) => res.json() as Promise<{ usage: { completion_tokens: number } }>);
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

  it('refuses a non-loopback --host without an API key, naming the ways out', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', bundle, '--host', '0.0.0.0', '--port', '0'], { encoding: 'utf8', env: { ...process.env, SNNCONVERT_API_KEYS: '' } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('error[OPTION_INVALID]');
    expect(r.stderr).toContain('--insecure-no-auth');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('prints an HAProxy config for N replicas that haproxy itself accepts', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', bundle, '--print-haproxy-config', '--replicas', '3', '--port', '9000'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('hash-type consistent');
    expect(r.stdout.match(/^  server r\d 127\.0\.0\.1:900\d check$/gm)).toEqual(['  server r1 127.0.0.1:9001 check', '  server r2 127.0.0.1:9002 check', '  server r3 127.0.0.1:9003 check']);
    const haproxy = ['haproxy', '/usr/sbin/haproxy'].find((bin) => spawnSync(bin, ['-v']).status === 0);
    if (haproxy) {
      const cfg = join(tempDir('snn-hacfg-'), 'haproxy.cfg');
      writeFileSync(cfg, r.stdout);
      expect(spawnSync(haproxy, ['-c', '-f', cfg], { encoding: 'utf8' }).status).toBe(0);
    }
  });
});
