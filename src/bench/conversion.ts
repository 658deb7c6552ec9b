// Conversion time and peak RSS: the CLI's convert re-run in a child process that reports its own peak RSS at exit.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnnError } from '../errors/index.js';

const CLI = fileURLToPath(new URL('../../bin/snnconvert.js', import.meta.url));

/** Preloaded into the child: writes process.resourceUsage().maxRSS (KiB, the child's own peak) to a file at exit. */
const RSS_HOOK = 'data:text/javascript,import{writeFileSync}from"node:fs";process.on("exit",()=>{writeFileSync(process.env.SNNCONVERT_BENCH_RSS,String(process.resourceUsage().maxRSS))});';

export interface ConversionSettings {
  readonly source: string;
  readonly recipe: string;
  readonly code: string;
  readonly timesteps: number;
  readonly threshold: string;
  readonly calibSamples: number;
  readonly calibLength: number;
  readonly calibText: string | null;
}

export interface ConversionMeasurement {
  /** Wall seconds of the child process (node start-up included). */
  readonly seconds: number;
  /** convert()'s own seconds, as it reports them. */
  readonly convertSeconds: number;
  /** Seconds of that the spike report took (report.json's `seconds`). */
  readonly reportSeconds: number | null;
  readonly peakRssBytes: number;
  readonly command: string;
}

/** Converts `settings.source` again into a temp folder (deleted afterwards) and measures it. */
export async function measureConversion(settings: ConversionSettings): Promise<ConversionMeasurement> {
  const dir = mkdtempSync(join(tmpdir(), 'snnconvert-bench-'));
  const out = join(dir, 'bench.snn');
  const rssFile = join(dir, 'maxrss');
  const args = ['convert', settings.source, '-o', out, '--json', '--recipe', settings.recipe, '--code', settings.code, '--timesteps', String(settings.timesteps),
    '--threshold', settings.threshold, '--calib-samples', String(settings.calibSamples), '--calib-length', String(settings.calibLength),
    ...(settings.calibText && existsSync(settings.calibText) ? ['--calib-text', settings.calibText] : [])];
  try {
    const t0 = performance.now();
    const { code, stdout, stderr } = await run(process.execPath, ['--import', RSS_HOOK, CLI, ...args], { ...process.env, SNNCONVERT_BENCH_RSS: rssFile });
    const seconds = (performance.now() - t0) / 1000;
    if (code !== 0) throw new SnnError('RUN_FAILED', { message: `the conversion exited with ${code}: ${stderr.trim().split('\n').pop() ?? ''}`, at: `snnconvert ${args.join(' ')}`, hint: 'pass --source with the model folder, or --no-conversion' });
    const summary = JSON.parse(stdout) as { seconds: number };
    const reportPath = join(out, 'spike.report', 'report.json');
    const reportSeconds = existsSync(reportPath) ? (JSON.parse(readFileSync(reportPath, 'utf8')) as { seconds: number }).seconds : null;
    return { seconds, convertSeconds: summary.seconds, reportSeconds, peakRssBytes: Number(readFileSync(rssFile, 'utf8')) * 1024, command: `snnconvert ${args.join(' ').replace(out, '<tmp>/bench.snn')}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
