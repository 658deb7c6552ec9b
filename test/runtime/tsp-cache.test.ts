// Cached ≡ recomputed: every turn of 20 dialogues through the KV cache equals a fresh full-history forward (ANN and all recipes).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { loadBundle, type RunnableModel } from '../../src/runtime/model.js';
import { loadHfAnn } from '../../src/open/hf-ann.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import { GPT2_DIR, LLAMA_DIR, tempDir } from '../helpers.js';
import { bytes, FAST, fedPositions, loadDialogues, maxAbsDiff, spyOnSteps, turnsThatFit } from './tsp-helpers.js';

const CONTEXT = 128;
const DIALOGUES = loadDialogues(20);
const TOLERANCE = 0;

/** The ANN runs whole 128-token histories; the SNNs (16× the work per token) histories of up to 96. */
interface Case { readonly label: string; readonly open: () => Promise<RunnableModel>; readonly ann: boolean; readonly budget: number }

const dir = tempDir('snn-tsp-cache-');
const bundles = new Map<string, string>();
const bundle = (name: string) => async () => loadBundle(bundles.get(name)!);
const CASES: Case[] = [
  { label: 'shakespeare-gpt2 ANN', open: () => loadHfAnn(GPT2_DIR), ann: true, budget: 128 },
  { label: 'shakespeare-gpt2 SNN faithful T=16', open: bundle('gpt2-faithful'), ann: false, budget: 96 },
  { label: 'shakespeare-gpt2 SNN stac T=16', open: bundle('gpt2-stac'), ann: false, budget: 96 },
  { label: 'shakespeare-gpt2 SNN exact T=16', open: bundle('gpt2-exact'), ann: false, budget: 96 },
  { label: 'shakespeare-llama ANN (RoPE, GQA)', open: () => loadHfAnn(LLAMA_DIR), ann: true, budget: 128 },
  { label: 'shakespeare-llama SNN faithful T=16 (RoPE, GQA)', open: bundle('llama-faithful'), ann: false, budget: 96 },
];

beforeAll(async () => {
  for (const [name, src, recipe] of [['gpt2-faithful', GPT2_DIR, 'faithful'], ['gpt2-stac', GPT2_DIR, 'stac'], ['gpt2-exact', GPT2_DIR, 'exact'], ['llama-faithful', LLAMA_DIR, 'faithful']] as const) {
    bundles.set(name, (await convert(src, { ...FAST, timesteps: 16, recipe, out: join(dir, `${name}.snn`) })).bundlePath);
  }
});

describe.each(CASES)('$label: cached turns equal a fresh full-history forward', ({ open, ann, budget }) => {
  let model: RunnableModel;
  beforeAll(async () => { model = await open(); });
  afterAll(async () => { await model.release(); });

  it('holds for every turn of 20 dialogues, batched together, bit for bit (Δ = 0)', async () => {
    const tsp = new TemporalSpikeProcessor(model, { ann, maxContextLength: CONTEXT });
    const reference = new TemporalSpikeProcessor(model, { ann, maxContextLength: CONTEXT });
    const spy = spyOnSteps(await model.session(ann));
    const dialogues = DIALOGUES.map((d) => ({ id: d.id, turns: turnsThatFit(d, budget, budget / 4), history: [] as number[] }));
    expect(Math.min(...dialogues.map((d) => d.turns.length))).toBeGreaterThanOrEqual(3);
    const cachedTurns = new Map<string, Float32Array[]>(dialogues.map((d) => [d.id, []]));
    try {
      for (let t = 0; ; t++) {
        const active = dialogues.filter((d) => t < d.turns.length);
        if (active.length === 0) break;
        const rows = active.map((d) => d.turns[t]!);
        const stepsBefore = spy.steps.length;
        const out = await tsp.forward(rows, { batchIds: active.map((d) => d.id) });
        // Rows of different lengths share the session call(s): never one call per conversation.
        expect(spy.steps.length - stepsBefore).toBeLessThan(active.length);
        for (const [r, d] of active.entries()) {
          const n = rows[r]!.length;
          // Positions continue from the conversation's length: asserted on what the session was given.
          const expected = Array.from({ length: n }, (_, k) => d.history.length + k);
          expect(fedPositions(spy.steps.slice(stepsBefore), rows[r]!, d.history.length)).toEqual(expected);
          expect(out.positionIds[r]).toEqual(expected);
          d.history.push(...rows[r]!);
          cachedTurns.get(d.id)!.push(out.rowLogits[r]!);
        }
      }
    } finally {
      spy.restore();
    }
    // The reference: one fresh forward of each whole history, no cache (causal, so it holds every turn's logits).
    let worst = 0;
    let compared = 0;
    for (const d of dialogues) {
      const full = (await reference.forward(d.history, { useCache: false })).rowLogits[0]!;
      let at = 0;
      for (const turn of cachedTurns.get(d.id)!) {
        worst = Math.max(worst, maxAbsDiff(turn, full.subarray(at, at + turn.length)));
        at += turn.length;
        compared += turn.length / model.spec.vocabSize;
      }
      expect(at).toBe(full.length);
    }
    expect(reference.conversations()).toEqual([]); // useCache: false keeps nothing
    expect(compared).toBeGreaterThan(20 * budget * 0.6);
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
    console.info(`cached vs recomputed, max |Δlogit| = ${worst.toExponential(2)} over ${compared} tokens`);
  });
});

describe("overflow 'slide'", () => {
  let model: RunnableModel;
  beforeAll(async () => { model = await loadBundle(bundles.get('gpt2-faithful')!); });
  afterAll(async () => { await model.release(); });

  it('keeps at most maxContextLength tokens, positions from 0, and each turn equals a fresh forward of the kept window', async () => {
    const max = 64;
    const tsp = new TemporalSpikeProcessor(model, { maxContextLength: max, overflow: 'slide' });
    const reference = new TemporalSpikeProcessor(model, { maxContextLength: max });
    let slides = 0;
    let worst = 0;
    for (const d of DIALOGUES.slice(0, 2)) {
      for (const turn of d.turns.slice(0, 9)) {
        const ids = bytes(turn).slice(0, 24);
        const out = await tsp.forward([ids], { batchIds: [d.id] });
        slides += out.dropped[0]! > 0 ? 1 : 0;
        const window = tsp.getTokenIds(d.id);
        expect(window.length).toBeLessThanOrEqual(max);
        expect(tsp.getPositionIds(d.id)).toEqual(window.map((_, i) => i));
        expect(window.slice(-ids.length)).toEqual(ids);
        const full = await reference.forward(window, { useCache: false });
        worst = Math.max(worst, maxAbsDiff(out.rowLogits[0]!, full.rowLogits[0]!.subarray((window.length - ids.length) * model.spec.vocabSize)));
      }
    }
    expect(slides).toBeGreaterThanOrEqual(4);
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });
});
