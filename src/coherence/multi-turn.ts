// Check: the cached history helps predict each real reply (mean NLL with history < without), and the SNN's NLL stays near the ANN's.
import type { ModelSession } from '../runtime/session.js';
import { fullForward, meanNll } from './reference.js';
import { round, Verdict } from './result.js';
import type { DialoguesRun, TurnRun } from './run-dialogues.js';
import type { CheckResult, Json } from './types.js';

export interface MultiTurnInputs {
  /** The network under test, through the processor's cache. */
  readonly run: DialoguesRun;
  readonly session: ModelSession;
  /** The source ANN on the same turns, when the network under test is the SNN. */
  readonly ann: { readonly run: DialoguesRun; readonly session: ModelSession } | null;
  readonly maxNllRatio: number;
  readonly onDialogue?: (done: number, total: number) => void;
}

interface TurnScore {
  readonly withHistory: number;
  readonly withoutHistory: number;
  readonly annWithHistory: number | null;
  readonly annWithoutHistory: number | null;
}

/**
 * Every turn after the first is a real reply. Its body (the tokens after the speaker label) is scored
 * twice with the same label before it: from the cached logits (the whole conversation before it), and
 * from a forward of the turn alone. The SNN/ANN ratio compares the two networks' NLL with history.
 */
export async function checkMultiTurn(inputs: MultiTurnInputs): Promise<CheckResult> {
  const { run, ann, maxNllRatio } = inputs;
  const v = new Verdict('multi-turn-coherence');
  if (run.error !== null) v.fail(run.error);
  if (ann && ann.run.error !== null) v.fail(`ANN reference: ${ann.run.error}`);
  const { scores, perTurn } = await scoreReplies(inputs, v);
  const mean = (f: (s: TurnScore) => number) => scores.reduce((a, s) => a + f(s), 0) / scores.length;
  const withH = mean((s) => s.withHistory);
  const withoutH = mean((s) => s.withoutHistory);
  const helped = scores.filter((s) => s.withHistory < s.withoutHistory).length;
  v.expect(scores.length > 0, () => 'no reply turn to score: every dialogue has a single turn');
  v.expect(withH < withoutH, () => `history does not help on average: mean NLL ${withH.toFixed(4)} nats/token with the cached history ≥ ${withoutH.toFixed(4)} without, over ${scores.length} replies`);
  const ratios = ann ? scores.map((s) => s.withHistory / s.annWithHistory!) : [];
  const meanRatio = ratios.length ? ratios.reduce((a, r) => a + r, 0) / ratios.length : null;
  if (meanRatio !== null) v.expect(meanRatio <= maxNllRatio, () => `the SNN's NLL is ${meanRatio.toFixed(4)}× the ANN's per reply on average, above the bound ${maxNllRatio}`);
  const ratioText = meanRatio === null ? 'no SNN/ANN ratio (the ANN is the network under test)' : `SNN/ANN NLL ratio ${meanRatio.toFixed(4)} per reply on average (≤ ${maxNllRatio}; worst ${Math.max(...ratios).toFixed(4)})`;
  return v.finish(
    `history helps: mean NLL ${withH.toFixed(4)} with the cached history < ${withoutH.toFixed(4)} without, over ${scores.length} replies (${helped} helped); ${ratioText}`,
    {
      replies: scores.length,
      mean_nll_with_history: round(withH),
      mean_nll_without_history: round(withoutH),
      history_gain_nats: round(withoutH - withH),
      replies_helped: helped,
      ann_mean_nll_with_history: ann ? round(mean((s) => s.annWithHistory!)) : null,
      ann_mean_nll_without_history: ann ? round(mean((s) => s.annWithoutHistory!)) : null,
      mean_snn_ann_ratio: meanRatio === null ? null : round(meanRatio),
      max_snn_ann_ratio: ratios.length ? round(Math.max(...ratios)) : null,
      max_nll_ratio: maxNllRatio,
      per_turn: perTurn,
    },
  );
}

/** Scores the body of every reply (turn ≥ 1) with and without history, for the network under test and its ANN. */
async function scoreReplies(inputs: MultiTurnInputs, v: Verdict): Promise<{ scores: TurnScore[]; perTurn: Json[] }> {
  const { run, session, ann, onDialogue } = inputs;
  const V = session.spec.vocabSize;
  const scores: TurnScore[] = [];
  const perTurn: Json[] = [];
  for (const [i, d] of run.dialogues.entries()) {
    for (const [t, turn] of d.turns.entries()) {
      if (t === 0 || turn.tokens.length <= turn.labelLength) continue;
      const where = `conversation ${d.id} turn ${t}`;
      if (!v.expect(turn.logits.length === turn.tokens.length * V, () => `${where}: the processor returned ${turn.logits.length / V} logits rows for ${turn.tokens.length} tokens`)) continue;
      const annTurn: TurnRun | undefined = ann?.run.dialogues[i]?.turns[t];
      const nll = (logits: Float32Array) => meanNll(logits, turn.tokens, turn.labelLength, V);
      const score: TurnScore = {
        withHistory: nll(turn.logits),
        withoutHistory: nll(await fullForward(session, turn.tokens)),
        annWithHistory: annTurn ? nll(annTurn.logits) : null,
        annWithoutHistory: ann ? nll(await fullForward(ann.session, turn.tokens)) : null,
      };
      v.expect(Number.isFinite(score.withHistory) && Number.isFinite(score.withoutHistory), () => `${where}: NLL is not finite (${score.withHistory} with history, ${score.withoutHistory} without)`);
      v.expect(!ann || score.annWithHistory !== null, () => `${where}: the ANN reference has no logits for this turn`);
      scores.push(score);
      perTurn.push({
        conversation: d.id, turn: t, scored_tokens: turn.tokens.length - turn.labelLength, history_tokens: turn.past,
        nll_with_history: round(score.withHistory), nll_without_history: round(score.withoutHistory),
        ann_nll_with_history: score.annWithHistory === null ? null : round(score.annWithHistory),
        ann_nll_without_history: score.annWithoutHistory === null ? null : round(score.annWithoutHistory),
        snn_ann_ratio: score.annWithHistory === null ? null : round(score.withHistory / score.annWithHistory),
      });
    }
    onDialogue?.(i + 1, run.dialogues.length);
  }
  return { scores, perTurn };
}
