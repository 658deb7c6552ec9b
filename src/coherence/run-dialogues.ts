// Feeds the dialogues turn by turn through a processor's cache, all conversations batched per turn, keeping what each call reported and fed.
import type { Dialogue } from './dialogues.js';
import { fedRows, findFedRow, type FedRow, type RecordingModel } from './recording.js';
import { errorText } from './result.js';
import type { CoherenceProcessor } from './types.js';

/** One turn of one conversation as the processor handled it. */
export interface TurnRun {
  /** Tokens the conversation held before this turn, by the suite's own count. */
  readonly past: number;
  readonly tokens: readonly number[];
  readonly labelLength: number;
  /** The processor's logits for the turn's tokens, [tokens, vocab]. */
  readonly logits: Float32Array;
  /** The positions the processor says it fed. */
  readonly reportedPositions: readonly number[];
  /** The recorded session row that fed these tokens (undefined: none did). */
  readonly fed: FedRow | undefined;
}

export interface DialogueRun {
  readonly id: string;
  readonly turns: TurnRun[];
  /** getPositionIds() after the last turn, or why it could not be read. */
  finalPositions: readonly number[] | string;
}

export interface DialoguesRun {
  readonly dialogues: readonly DialogueRun[];
  /** What the processor threw, if it did: the turns up to there are kept. */
  readonly error: string | null;
  /** Session calls made, and forward calls (one per turn index). */
  readonly sessionCalls: number;
  readonly forwardCalls: number;
}

/**
 * Turn t of every dialogue that has one goes in the same forward call (rows of different lengths and
 * histories share the batch, so padding and per-row masks are exercised).
 */
export async function runDialogues(proc: CoherenceProcessor, recorder: RecordingModel, dialogues: readonly Dialogue[], onTurn?: (done: number, total: number) => void): Promise<DialoguesRun> {
  const runs: DialogueRun[] = dialogues.map((d) => ({ id: d.id, turns: [], finalPositions: 'not read' }));
  const held = dialogues.map(() => 0);
  const longest = Math.max(...dialogues.map((d) => d.turns.length));
  const firstStep = recorder.steps.length;
  let error: string | null = null;
  let forwardCalls = 0;
  for (let t = 0; t < longest && error === null; t++) {
    const active = dialogues.map((d, i) => i).filter((i) => t < dialogues[i]!.turns.length);
    const before = recorder.steps.length;
    try {
      const out = await proc.forward(active.map((i) => dialogues[i]!.turns[t]!.tokens), { batchIds: active.map((i) => dialogues[i]!.id) });
      forwardCalls += 1;
      const rows = recorder.steps.slice(before).flatMap(fedRows);
      const taken = new Set<FedRow>();
      active.forEach((i, r) => {
        const turn = dialogues[i]!.turns[t]!;
        const fed = findFedRow(rows, turn.tokens, held[i]!, taken);
        if (fed) taken.add(fed);
        runs[i]!.turns.push({ past: held[i]!, tokens: turn.tokens, labelLength: turn.labelLength, logits: out.rowLogits[r] ?? new Float32Array(0), reportedPositions: out.positionIds[r] ?? [], fed });
        held[i] = held[i]! + turn.tokens.length;
      });
    } catch (e) {
      error = `the processor threw on turn ${t}: ${errorText(e)}`;
    }
    onTurn?.(t + 1, longest);
  }
  for (const run of runs) {
    try { run.finalPositions = proc.getPositionIds(run.id); } catch (e) { run.finalPositions = errorText(e); }
  }
  return { dialogues: runs, error, sessionCalls: recorder.steps.length - firstStep, forwardCalls };
}
