// The context policy at its limit, read from what was fed: 'error' rejects the first token past it, 'slide' keeps positions below it.
import { SnnError } from '../errors/index.js';
import type { ModelSession } from '../runtime/session.js';
import type { ForwardOutput, TspOptions } from '../runtime/tsp.js';
import type { RunnableModel } from '../runtime/model.js';
import { arange, fedRows, RecordingModel, sameList, showList, type FedRow } from './recording.js';
import { fullForward, maxAbsDiff } from './reference.js';
import type { Verdict } from './result.js';
import { errorText } from './result.js';
import type { CoherenceProcessor } from './types.js';

export interface LimitProbeContext {
  readonly model: RunnableModel;
  readonly make: (model: RunnableModel, opts: TspOptions) => CoherenceProcessor;
  readonly ann: boolean;
  readonly context: number;
  readonly tolerance: number;
  /** Reference session (the same network, straight). */
  readonly session: ModelSession;
  /** Turns of real dialogue, each at most a quarter of the context, totalling several contexts. */
  readonly stream: readonly (readonly number[])[];
}

const ID = 'coherence-limit';

/**
 * 'error': fills one conversation to exactly the context (last position fed = context − 1), then
 * feeds one token more, which must throw CONTEXT_OVERFLOW naming the limit, feed nothing, and keep
 * the conversation as it was.
 */
export async function probeErrorPolicy(ctx: LimitProbeContext, v: Verdict): Promise<{ lastFedPosition: number | null; rejected: boolean }> {
  const recorder = new RecordingModel(ctx.model);
  const proc = ctx.make(recorder, { maxContextLength: ctx.context, overflow: 'error', ann: ctx.ann });
  const tokens = ctx.stream.flat();
  const calls: number[][] = [];
  let held = 0;
  for (const turn of ctx.stream) {
    const take = turn.slice(0, ctx.context - held);
    if (take.length === 0) break;
    calls.push(take);
    held += take.length;
  }
  held = 0;
  let lastFedPosition: number | null = null;
  try {
    for (const ids of calls) {
      const before = recorder.steps.length;
      await proc.forward([ids], { batchIds: [ID] });
      const fed = recorder.steps.slice(before).flatMap(fedRows).flatMap((r) => r.positions);
      v.expect(sameList(fed, arange(held, ids.length)), () => `overflow 'error': filling to the limit fed positions ${showList(fed)}, expected ${showList(arange(held, ids.length))}`);
      lastFedPosition = fed.length > 0 ? fed[fed.length - 1]! : lastFedPosition;
      held += ids.length;
    }
  } catch (e) {
    v.fail(`overflow 'error': the processor threw before the context of ${ctx.context} tokens was full (${held} held): ${errorText(e)}`);
    return { lastFedPosition, rejected: false };
  }
  v.expect(lastFedPosition === ctx.context - 1, () => `overflow 'error': the last position fed at a full context is ${String(lastFedPosition)}, expected ${ctx.context - 1}`);
  const before = recorder.steps.length;
  const extra = tokens[held] ?? tokens[0]!;
  let rejected = false;
  try {
    await proc.forward([[extra]], { batchIds: [ID] });
    const fed = recorder.steps.slice(before).flatMap(fedRows).flatMap((r) => r.positions);
    v.fail(`overflow 'error': one token past the context of ${ctx.context} tokens was accepted (positions fed: ${showList(fed)}), expected CONTEXT_OVERFLOW`);
  } catch (e) {
    rejected = e instanceof SnnError && e.code === 'CONTEXT_OVERFLOW';
    v.expect(rejected, () => `overflow 'error': one token past the context threw ${errorText(e)}, expected CONTEXT_OVERFLOW`);
    v.expect(!rejected || (e as Error).message.includes(String(ctx.context)), () => `overflow 'error': the CONTEXT_OVERFLOW message does not name the limit ${ctx.context}: ${errorText(e)}`);
    v.expect(recorder.steps.length === before, () => `overflow 'error': the rejected call still ran ${recorder.steps.length - before} session step(s)`);
    const kept = readPositions(proc);
    v.expect(sameList(kept, arange(0, held)), () => `overflow 'error': after the rejected call the conversation holds positions ${showList(kept)}, expected it unchanged ${showList(arange(0, held))}`);
  }
  return { lastFedPosition, rejected };
}

/**
 * 'slide': streams turns past the context until the window slid twice. After every call the window
 * holds at most `context` tokens at positions 0…n−1, ends with the new tokens; every position fed is
 * below the context and the fed tokens are the window's at those positions; after a slide, the new
 * tokens' logits equal a fresh forward of the kept window.
 */
export async function probeSlidePolicy(ctx: LimitProbeContext, v: Verdict): Promise<{ slides: number; maxFedPosition: number; worstSlideDiff: number }> {
  const recorder = new RecordingModel(ctx.model);
  const proc = ctx.make(recorder, { maxContextLength: ctx.context, overflow: 'slide', ann: ctx.ann });
  const V = ctx.model.spec.vocabSize;
  let slides = 0;
  let maxFedPosition = -1;
  let worstSlideDiff = 0;
  let held = 0;
  for (const [t, ids] of ctx.stream.entries()) {
    if (slides >= 2) break;
    const before = recorder.steps.length;
    let out: ForwardOutput;
    try {
      out = await proc.forward([ids], { batchIds: [ID] });
    } catch (e) {
      v.fail(`overflow 'slide': turn ${t} threw ${errorText(e)}`);
      return { slides, maxFedPosition, worstSlideDiff };
    }
    const rows = recorder.steps.slice(before).flatMap(fedRows);
    const window = readTokens(proc);
    const slid = window.length < held + ids.length;
    held = window.length;
    for (const row of rows) maxFedPosition = Math.max(maxFedPosition, ...row.positions);
    verifyWindow(v, `overflow 'slide': turn ${t}`, { ids, window, positions: readPositions(proc), rows, context: ctx.context });
    if (!slid) continue;
    slides += 1;
    const full = await fullForward(ctx.session, window);
    const diff = maxAbsDiff(out.rowLogits[0] ?? new Float32Array(0), full.subarray((window.length - ids.length) * V));
    worstSlideDiff = Math.max(worstSlideDiff, diff);
    v.expect(diff <= ctx.tolerance, () => `overflow 'slide': after the slide at turn ${t}, the new tokens' logits differ from a fresh forward of the kept window by ${diff.toExponential(2)} > ${ctx.tolerance}`);
  }
  v.expect(maxFedPosition < ctx.context, () => `overflow 'slide': position ${maxFedPosition} was fed, at or past the context of ${ctx.context}`);
  v.expect(slides > 0, () => `overflow 'slide': the window never slid over ${ctx.stream.flat().length} streamed tokens in a context of ${ctx.context}`);
  return { slides, maxFedPosition, worstSlideDiff };
}

/** After a call under 'slide': the window fits, sits at positions 0…n−1, ends with the new tokens, and what was fed is the window's. */
function verifyWindow(v: Verdict, where: string, c: { ids: readonly number[]; window: readonly number[]; positions: readonly number[]; rows: readonly FedRow[]; context: number }): void {
  const { ids, window, positions, rows, context } = c;
  v.expect(window.length <= context, () => `${where} left ${window.length} tokens in a context of ${context}`);
  v.expect(sameList(positions, arange(0, window.length)), () => `${where} left positions ${showList(positions)}, expected ${showList(arange(0, window.length))}`);
  v.expect(sameList(window.slice(-ids.length), ids), () => `${where}: the window does not end with the new tokens`);
  for (const row of rows) {
    const from = row.positions[0] ?? 0;
    v.expect(sameList(row.positions, arange(from, row.tokens.length)) && sameList(row.tokens, window.slice(from, from + row.tokens.length)), () => `${where} fed tokens at positions ${showList(row.positions)} that are not the window's tokens at those positions`);
  }
}

function readPositions(proc: CoherenceProcessor): number[] {
  try { return proc.getPositionIds(ID); } catch { return []; }
}

function readTokens(proc: CoherenceProcessor): number[] {
  try { return proc.getTokenIds(ID); } catch { return []; }
}
