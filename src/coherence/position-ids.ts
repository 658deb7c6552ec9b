// Check: the positions fed with every turn are arange(past, past + S) of its conversation, and the context policy holds at the limit.
import { probeErrorPolicy, probeSlidePolicy, type LimitProbeContext } from './context-limit.js';
import { arange, sameList, showList } from './recording.js';
import { Verdict } from './result.js';
import type { DialoguesRun } from './run-dialogues.js';
import type { CheckResult } from './types.js';

/**
 * Per conversation and turn: the positions the processor reports and the positions the session was
 * actually given (read from the recorded step) both equal arange(past, past + S), where past is what
 * the suite fed that conversation before; afterwards getPositionIds() is arange(0, total).
 */
export async function checkPositionIds(run: DialoguesRun, limit: LimitProbeContext): Promise<CheckResult> {
  const v = new Verdict('position-ids');
  if (run.error !== null) v.fail(run.error);
  let turns = 0;
  for (const d of run.dialogues) {
    let total = 0;
    for (const [t, turn] of d.turns.entries()) {
      const expected = arange(turn.past, turn.tokens.length);
      const where = `conversation ${d.id} turn ${t}`;
      v.expect(sameList(turn.reportedPositions, expected), () => `${where}: forward() reported positions ${showList(turn.reportedPositions)}, expected ${showList(expected)}`);
      if (v.expect(turn.fed !== undefined, () => `${where}: no session row fed its ${turn.tokens.length} tokens`)) {
        v.expect(sameList(turn.fed!.positions, expected), () => `${where}: positions ${showList(turn.fed!.positions)} were fed to the model, expected ${showList(expected)}`);
      }
      total = turn.past + turn.tokens.length;
      turns += 1;
    }
    const final = d.finalPositions;
    v.expect(typeof final !== 'string' && sameList(final, arange(0, total)), () => `conversation ${d.id}: getPositionIds() is ${typeof final === 'string' ? `an error (${final})` : showList(final)} after ${total} tokens, expected ${showList(arange(0, total))}`);
  }
  const error = await probeErrorPolicy(limit, v);
  const slide = await probeSlidePolicy(limit, v);
  return v.finish(
    `every one of ${turns} turns was fed arange(past, past + S) of its own conversation (read from the session input); at the ${limit.context}-token limit 'error' fed position ${limit.context - 1} then rejected the next token with CONTEXT_OVERFLOW, and 'slide' slid ${slide.slides} times feeding positions < ${limit.context} only`,
    {
      turns,
      conversations: run.dialogues.length,
      forward_calls: run.forwardCalls,
      session_calls: run.sessionCalls,
      context: limit.context,
      error_policy: { last_fed_position: error.lastFedPosition, overflow_rejected: error.rejected },
      slide_policy: { slides: slide.slides, max_fed_position: slide.maxFedPosition, max_abs_logit_diff_after_slide: slide.worstSlideDiff },
    },
  );
}
