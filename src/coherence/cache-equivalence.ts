// Check: every cached turn's logits equal one full, uncached recompute of the conversation (max |Δlogit| ≤ tolerance).
import type { ModelSession } from '../runtime/session.js';
import { fullForward, maxAbsDiff } from './reference.js';
import { round, Verdict } from './result.js';
import type { DialoguesRun } from './run-dialogues.js';
import type { CheckResult } from './types.js';

/** The first row (of V logits) whose |Δ| exceeds the tolerance. */
function firstDiffering(a: Float32Array, b: Float32Array, V: number, tolerance: number): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (!(Math.abs(a[i]! - b[i]!) <= tolerance)) return Math.floor(i / V);
  return Math.floor(Math.min(a.length, b.length) / V);
}

/**
 * The reference is one forward of the conversation's whole history straight on the session (batch of
 * one, no cache, no padding); attention is causal, so its rows hold every turn's logits.
 */
export async function checkCacheEquivalence(run: DialoguesRun, session: ModelSession, tolerance: number, onDialogue?: (done: number, total: number) => void): Promise<CheckResult> {
  const v = new Verdict('cache-equivalence');
  if (run.error !== null) v.fail(run.error);
  const V = session.spec.vocabSize;
  let worst = 0;
  let tokens = 0;
  let turns = 0;
  const perDialogue: number[] = [];
  for (const [i, d] of run.dialogues.entries()) {
    const history = d.turns.flatMap((t) => t.tokens);
    if (history.length === 0) continue;
    const full = await fullForward(session, history);
    let at = 0;
    let dialogueWorst = 0;
    for (const [t, turn] of d.turns.entries()) {
      const n = turn.tokens.length;
      const reference = full.subarray(at * V, (at + n) * V);
      const diff = maxAbsDiff(turn.logits, reference);
      v.expect(diff <= tolerance, () => `conversation ${d.id} turn ${t} (positions ${at}…${at + n - 1}): cached logits differ from the full recompute by max |Δlogit| ${diff === Infinity ? '∞ (shape or NaN)' : diff.toExponential(2)} > ${tolerance}, first at position ${at + firstDiffering(turn.logits, reference, V, tolerance)}`);
      dialogueWorst = Math.max(dialogueWorst, diff);
      at += n;
      tokens += n;
      turns += 1;
    }
    worst = Math.max(worst, dialogueWorst);
    perDialogue.push(dialogueWorst);
    onDialogue?.(i + 1, run.dialogues.length);
  }
  return v.finish(
    `${turns} cached turns (${tokens} tokens, ${run.dialogues.length} conversations batched per turn) equal a full recompute: max |Δlogit| ${worst.toExponential(2)} ≤ ${tolerance}`,
    { turns, tokens, conversations: run.dialogues.length, max_abs_logit_diff: round(worst), per_conversation_max: perDialogue.map((x) => round(x)), tolerance },
  );
}
