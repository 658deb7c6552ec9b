// The recall probe: passes when the reply holds the fact, otherwise reported (never failed) with a reason that says whether the model is instruction-tuned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeRecall, RECALL_PROBES } from '../../src/coherence/recall.js';
import { loadHfAnn, type HfAnnModel } from '../../src/open/hf-ann.js';
import { GPT2_DIR } from '../helpers.js';
import { CyclingModel, FakeBundle, withChatTemplate } from './fakes.js';

let ann: HfAnnModel;
beforeAll(async () => { ann = await loadHfAnn(GPT2_DIR); });
afterAll(async () => { await ann.release(); });

describe('recall probe', () => {
  it('passes when the turn-3 reply contains the fact stated in turn 1', async () => {
    const r = await probeRecall(new CyclingModel(ann), { ann: false, context: 128, probes: [RECALL_PROBES[0]!] });
    expect(r.status).toBe('pass');
    expect(r.reason).toBe('recalled 1 of 1 facts from turn 1 in turn 3');
    expect(r.measured['replies']).toMatchObject([{ recalled: true, fact_in_window: true, turn3_reply: expect.stringMatching(/rosalind/) }]);
  });

  it('is reported, not failed, when a model that is not instruction-tuned misses, and says why', async () => {
    const r = await probeRecall(ann, { ann: true, context: 128 });
    expect(r.status).toBe('reported');
    expect(r.reason).toMatch(/^recalled 0 of 2 facts; this model is not instruction-tuned \(its tokenizer has no chat template\), and recall can only pass on an instruction-tuned model; reported, not counted as a failure of the suite\. First miss: asked "What is my name\?" after "My name is Rosalind\.", the reply was /);
    expect(r.failures).toHaveLength(2);
  });

  it('says so when a model with a chat template misses', async () => {
    const r = await probeRecall(new FakeBundle(ann, {}, withChatTemplate(ann.tokenizer)), { ann: true, context: 128 });
    expect(r.status).toBe('reported');
    expect(r.reason).toMatch(/the model has a chat template \(instruction-tuned\) yet did not recall it/);
    expect(r.measured['instruction_tuned']).toBe(true);
  });
});
