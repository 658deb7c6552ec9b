// The coherence suite on real Shakespeare bundles (exact and faithful): every check passes, recall is reported; and the CLI.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCoherenceSuite, type CheckName, type CoherenceReport } from '../../src/coherence/index.js';
import { convert } from '../../src/convert.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { CLI, GPT2_DIR, tempDir } from '../helpers.js';

const FAST = { calibration: { samples: 8, length: 64 } } as const;
const dir = tempDir('snn-coherence-');
const paths = new Map<string, string>();

beforeAll(async () => {
  for (const recipe of ['exact', 'faithful'] as const) {
    paths.set(recipe, (await convert(GPT2_DIR, { ...FAST, timesteps: 16, recipe, out: join(dir, `${recipe}.snn`) })).bundlePath);
  }
});

function check(r: CoherenceReport, name: CheckName) {
  const c = r.checks.find((x) => x.check === name);
  if (!c) throw new Error(`no ${name} check`);
  return c;
}

describe.each(['exact', 'faithful'])('runCoherenceSuite on the Shakespeare GPT-2 %s bundle (T=16, 5 dialogues)', (recipe) => {
  let bundle: Bundle;
  let r: CoherenceReport;
  beforeAll(async () => {
    bundle = await loadBundle(paths.get(recipe)!);
    r = await runCoherenceSuite(bundle, { count: 5 });
  });
  afterAll(async () => { await bundle.release(); });

  it('passes every check, recall being reported (not counted) with the reason', () => {
    for (const c of r.checks) console.info(`${recipe} ${c.status} ${c.check}: ${c.reason}`);
    expect(r).toMatchObject({ passed: true, tested: 'snn', recipe, timesteps: 16, contextLength: 128, tolerance: 0 });
    expect(r.checks.map((c) => [c.check, c.status])).toEqual([
      ['position-ids', 'pass'], ['attention-mask', 'pass'], ['cache-equivalence', 'pass'], ['multi-turn-coherence', 'pass'], ['recall', 'reported'],
    ]);
    expect(check(r, 'recall').reason).toMatch(/not instruction-tuned .*recall can only pass on an instruction-tuned model; reported, not counted/);
    expect(check(r, 'recall').measured).toMatchObject({ instruction_tuned: false, counted: false, probes: 2 });
  });

  it('fits the dialogues in the 128-token context and batches conversations of different lengths', () => {
    expect(r.dialogues).toMatchObject({ count: 5 });
    expect(r.dialogues.tokens).toBeLessThanOrEqual(5 * 128);
    expect(r.dialogues.turns).toBeGreaterThanOrEqual(5 * 3);
    const mask = check(r, 'attention-mask').measured;
    expect(mask['rows']).toBe(r.dialogues.turns);
    expect(mask['padded_rows']).toBeGreaterThan(0);
    expect(check(r, 'position-ids').measured['forward_calls']).toBeLessThan(r.dialogues.turns);
  });

  it('measures the context policy at the limit on what was fed', () => {
    expect(check(r, 'position-ids').measured).toMatchObject({ error_policy: { last_fed_position: 127, overflow_rejected: true } });
    const slide = check(r, 'position-ids').measured['slide_policy'] as { slides: number; max_fed_position: number; max_abs_logit_diff_after_slide: number };
    expect(slide.slides).toBeGreaterThanOrEqual(1);
    expect(slide.max_fed_position).toBeLessThan(128);
    expect(slide.max_abs_logit_diff_after_slide).toBe(0);
  });

  it('reports cached ≡ recomputed and padded ≡ unpadded bit for bit, and per-turn NLL with and without history', () => {
    expect(check(r, 'cache-equivalence').measured['max_abs_logit_diff']).toBe(0);
    expect(check(r, 'attention-mask').measured['padded_prefill_max_abs_logit_diff']).toBe(0);
    expect(check(r, 'attention-mask').measured['padded_cache_max_abs_logit_diff']).toBe(0);
    const m = check(r, 'multi-turn-coherence').measured;
    expect(m['mean_nll_with_history'] as number).toBeLessThan(m['mean_nll_without_history'] as number);
    expect(m['mean_snn_ann_ratio'] as number).toBeLessThanOrEqual(1.25);
    const perTurn = m['per_turn'] as { turn: number; nll_with_history: number; snn_ann_ratio: number }[];
    expect(perTurn.length).toBe(m['replies']);
    expect(perTurn.every((t) => t.turn >= 1 && t.nll_with_history > 0 && t.snn_ann_ratio > 0)).toBe(true);
    if (recipe === 'exact') expect(m['mean_snn_ann_ratio']).toBeCloseTo(1, 3);
  });

  it('is JSON all the way down (what --json prints)', () => {
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

describe('snnconvert test', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'test', ...args], { encoding: 'utf8', timeout: 110_000 });

  it('prints the report as JSON alone on stdout and exits 0 when the suite passes', () => {
    const p = run(paths.get('exact')!, '--json', '--count', '2', '--no-recall', '-q');
    expect(p.stderr).toBe('');
    expect(p.status).toBe(0);
    const r = JSON.parse(p.stdout) as CoherenceReport;
    expect(r.passed).toBe(true);
    expect(r.checks.map((c) => c.check)).toEqual(['position-ids', 'attention-mask', 'cache-equivalence', 'multi-turn-coherence']);
    expect(r.dialogues.count).toBe(2);
  });

  it('exits 1 and names the failing check and its reason when a bound is not met', () => {
    // The exact recipe's NLL equals its ANN's: a bound below 1 must fail.
    const p = run(paths.get('exact')!, '--count', '2', '--no-recall', '--max-nll-ratio', '0.99', '-q');
    expect(p.status).toBe(1);
    expect(p.stdout).toMatch(/fail {5}multi-turn-coherence {2}.*the SNN's NLL is 1\.0000× the ANN's per reply on average, above the bound 0\.99/);
    expect(p.stdout).toMatch(/^FAILED \(3 pass, 1 fail\)/m);
  });

  it('rejects a dialogue file that is not JSONL dialogues, naming the line', () => {
    const p = run(paths.get('exact')!, '--dialogues', join(GPT2_DIR, 'heldout.txt'), '-q');
    expect(p.status).toBe(1);
    expect(p.stderr).toMatch(/error\[TEXT_INVALID\].*line 1 is not JSON/);
  });
});
