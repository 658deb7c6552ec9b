// Every check can fail: broken models and processors (test/coherence/fakes.ts) each make the check they break fail, with a reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCoherenceSuite, type CheckName, type CoherenceOptions, type CoherenceReport } from '../../src/coherence/index.js';
import { loadHfAnn, type HfAnnModel } from '../../src/open/hf-ann.js';
import { GPT2_DIR } from '../helpers.js';
import { dropCache, FakeBundle, flattenLogits, forgetfulProcessor, ignoreMask, offByOneProcessor, shiftCachedPositions, unboundedProcessor, type Tamper } from './fakes.js';

let ann: HfAnnModel;
beforeAll(async () => { ann = await loadHfAnn(GPT2_DIR); });
afterAll(async () => { await ann.release(); });

const FAST: CoherenceOptions = { count: 3, recall: false };

async function suite(tamper: Tamper, opts: CoherenceOptions = {}): Promise<CoherenceReport> {
  return runCoherenceSuite(new FakeBundle(ann, tamper), { ...FAST, ...opts });
}

function statuses(r: CoherenceReport): Record<string, string> {
  return Object.fromEntries(r.checks.map((c) => [c.check, c.status]));
}

function check(r: CoherenceReport, name: CheckName) {
  const c = r.checks.find((x) => x.check === name);
  if (!c) throw new Error(`no ${name} check`);
  return c;
}

describe('the coherence suite on deliberately broken models and processors', () => {
  it('passes on the untampered fake (the harness itself is sound)', async () => {
    const r = await suite({});
    expect(statuses(r)).toEqual({ 'position-ids': 'pass', 'attention-mask': 'pass', 'cache-equivalence': 'pass', 'multi-turn-coherence': 'pass' });
    expect(r.passed).toBe(true);
  });

  it('fails cache equivalence when the session drops the cache, and says which turn and by how much', async () => {
    const r = await suite(dropCache);
    expect(r.passed).toBe(false);
    const c = check(r, 'cache-equivalence');
    expect(c.status).toBe('fail');
    expect(c.reason).toMatch(/turn \d+ .*cached logits differ from the full recompute by max \|Δlogit\| [\d.e+-]+ > 0, first at position \d+/);
    expect(check(r, 'position-ids').status).toBe('pass'); // the processor fed the right positions: a different fault
    // Attending to zeroed K/V makes the history a hindrance: the coherence check catches it too.
    expect(check(r, 'multi-turn-coherence').status).toBe('fail');
    expect(check(r, 'multi-turn-coherence').reason).toMatch(/history does not help on average: mean NLL [\d.]+ nats\/token with the cached history ≥ [\d.]+ without/);
  });

  it('fails cache equivalence when cached steps run at shifted positions inside the model', async () => {
    const r = await suite(shiftCachedPositions);
    expect(check(r, 'cache-equivalence').status).toBe('fail');
    expect(check(r, 'position-ids').status).toBe('pass'); // what the processor fed was right; the model moved it
  });

  it('fails the attention-mask check when the model attends to padding', async () => {
    const r = await suite(ignoreMask);
    expect(statuses(r)).toMatchObject({ 'position-ids': 'pass', 'attention-mask': 'fail' });
    const c = check(r, 'attention-mask');
    expect(c.status).toBe('fail');
    expect(c.reason).toMatch(/padding was attended/);
  });

  it('fails the multi-turn ratio when the SNN is much worse than its ANN', async () => {
    const r = await suite(flattenLogits);
    const c = check(r, 'multi-turn-coherence');
    expect(c.status).toBe('fail');
    expect(c.reason).toMatch(/the SNN's NLL is [\d.]+× the ANN's per reply on average, above the bound 1\.25/);
  });

  it('fails position ids and mask growth when the processor forgets the history', async () => {
    const r = await suite({}, { createProcessor: forgetfulProcessor });
    const c = check(r, 'position-ids');
    expect(c.status).toBe('fail');
    expect(c.reason).toMatch(/turn 1: forward\(\) reported positions \[0, 1, 2, …, \d+, \d+\] \(\d+\), expected \[\d+, /);
    expect(c.failures.some((f) => /turn 1: positions \[0, 1, 2, …, \d+, \d+\] \(\d+\) were fed to the model, expected \[\d+, /.test(f))).toBe(true);
    expect(check(r, 'attention-mask').status).toBe('fail');
    expect(check(r, 'attention-mask').reason).toMatch(/the mask attends to \d+ keys \(0 cached \+ \d+ new\), expected \d+ \+ \d+ new/);
  });

  it('fails position ids when the processor runs one position behind', async () => {
    const r = await suite({}, { createProcessor: offByOneProcessor });
    const c = check(r, 'position-ids');
    expect(c.status).toBe('fail');
    expect(c.failures.some((f) => /forward\(\) reported positions|were fed to the model/.test(f))).toBe(true);
  });

  it('fails the context-limit probes when the processor ignores maxContextLength', async () => {
    const r = await suite({}, { createProcessor: unboundedProcessor, maxContextLength: 64 });
    const c = check(r, 'position-ids');
    expect(c.status).toBe('fail');
    expect(c.failures.some((f) => f.includes("overflow 'error': one token past the context of 64 tokens was accepted"))).toBe(true);
    expect(c.failures.some((f) => /overflow 'slide': .*(tokens in a context of 64|at or past the context of 64)/.test(f))).toBe(true);
  });
});
