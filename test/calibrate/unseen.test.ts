// Unseen models (fixtures/unseen: trained on dialogues and Python, contexts 256 and 512, a BPE tokenizer):
// the ANN path against their PyTorch eval.json, and a conversion with no options at all against its ANN
// on full-context held-out windows — positions up to the context, tokens calibration never saw.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { CLIPPING_WARN_SHARE } from '../../src/runtime/clipping.js';
import { evaluate } from '../../src/runtime/evaluate.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { FIXTURES, tempDir } from '../helpers.js';

const UNSEEN = join(FIXTURES, 'unseen');
const MODELS = ['chat-gpt2', 'code-llama', 'bpe-llama'] as const;
/** The acceptance at the default T, on full-context windows. */
const KL_BOUND = 0.01;
const TOP1_BOUND = 0.95;

interface EvalJson { readonly ppl: number; readonly window: number; readonly windows: number }

const heldout = (b: Bundle, name: string): number[] => b.tokenizer.encode(readFileSync(join(UNSEEN, name, 'heldout.txt'), 'utf8'));

describe.each(MODELS)('%s converted with no options', (name) => {
  let bundle: Bundle;
  beforeAll(async () => {
    const { bundlePath } = await convert(join(UNSEEN, name), { out: join(tempDir(), `${name}.snn`) });
    bundle = await loadBundle(bundlePath);
  }, 300_000);
  afterAll(async () => { await bundle?.release(); });

  it('the ANN reproduces the PyTorch perplexity of eval.json (all windows)', async () => {
    const ref = JSON.parse(readFileSync(join(UNSEEN, name, 'eval.json'), 'utf8')) as EvalJson;
    const r = await evaluate(bundle, heldout(bundle, name), { annOnly: true, window: ref.window });
    expect(r.windows).toBe(ref.windows);
    expect(Math.abs(r.ann.ppl / ref.ppl - 1)).toBeLessThan(2e-3);
  });

  it('calibration covered every position of the context', () => {
    const c = bundle.meta.calibration;
    expect(c.positionsCovered).toBe(bundle.spec.maxPositions);
    expect(c.uncoveredPositions).toBeNull();
  });

  it('is faithful on two full-context held-out windows holding tokens calibration never saw', async () => {
    const ids = heldout(bundle, name);
    const W = bundle.spec.maxPositions;
    const eot = bundle.tokenizer.eosTokenId!;
    // The rare token: the document separator, absent from the shipped calibration corpus.
    const start = Math.max(0, ids.indexOf(eot) - 8);
    const window = ids.slice(start, start + 2 * W);
    expect(window).toContain(eot);
    const r = await evaluate(bundle, window, { window: W });
    expect(r.windows).toBe(2);
    expect(r.kl!).toBeLessThanOrEqual(KL_BOUND);
    expect(Math.abs(r.ratio! - 1)).toBeLessThanOrEqual(0.01);
    expect(r.top1_agreement!).toBeGreaterThanOrEqual(TOP1_BOUND);
    expect(r.clipped!.warning).toBeNull();
  });
});

describe('a position beyond the calibrated range (chat-gpt2: learned position embeddings, context 256)', () => {
  it('windows of 64 tokens leave 64–255 uncalibrated: recorded, warned, clipping more there without headroom; one headroom digit absorbs it', async () => {
    const dir = join(UNSEEN, 'chat-gpt2');
    const messages: string[] = [];
    const open = async (length: number | undefined, headroom: number | undefined) => loadBundle((await convert(dir, {
      out: join(tempDir(), 'm.snn'), ...(headroom !== undefined ? { headroom } : {}), ...(length ? { calibration: { length } } : {}), onProgress: (p) => messages.push(p.message),
    })).bundlePath);
    const short0 = await open(64, 0);
    expect(short0.meta.calibration.uncoveredPositions).toBe('64–255');
    expect(messages.some((m) => m.startsWith('warning:') && m.includes('64–255'))).toBe(true);
    const ids = heldout(short0, 'chat-gpt2').slice(0, 2 * 256);
    const share = async (b: Bundle) => { const r = await evaluate(b, ids, { window: 256 }); await b.release(); return r.clipped!.share; };
    const short = await share(short0);
    const full = await share(await open(undefined, 0));
    expect(short).toBeGreaterThan(full);
    expect(await share(await open(64, undefined))).toBeLessThan(CLIPPING_WARN_SHARE);
  }, 300_000);
});
