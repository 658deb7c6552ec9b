// Shared by the runtime tests: dialogues from the committed fixture, byte encoding, diffs, typed-error capture, a step spy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SnnError } from '../../src/errors/index.js';
import type { ModelSession, StepInput } from '../../src/runtime/session.js';
import { FIXTURES } from '../helpers.js';

/** Calibration small enough for tests (as test/emit does). */
export const FAST = { calibration: { samples: 8, length: 64 } } as const;

export interface Dialogue {
  readonly id: string;
  readonly turns: readonly string[];
}

/** The committed Topical-Chat subset (fixtures/dialogues), as "A: …\n" / "B: …\n" turns. */
export function loadDialogues(count: number): Dialogue[] {
  const lines = readFileSync(join(FIXTURES, 'dialogues', 'topical-chat-25.jsonl'), 'utf8').trim().split('\n');
  return lines.slice(0, count).map((line) => {
    const d = JSON.parse(line) as { conversation_id: string; turns: { speaker: string; text: string }[] };
    return { id: d.conversation_id, turns: d.turns.map((t) => `${t.speaker === 'agent_1' ? 'A' : 'B'}: ${t.text}\n`) };
  });
}

/**
 * The byte tokenizer of the Shakespeare fixtures (byte b → id b), written out here so the tests do
 * not depend on the code under test for their inputs.
 */
export function bytes(text: string): number[] {
  return Array.from(Buffer.from(text, 'utf8'));
}

/** As many turns (each cut to `maxBytes` bytes) as fit in `budget` tokens; at least one. */
export function turnsThatFit(d: Dialogue, budget: number, maxBytes: number): number[][] {
  const out: number[][] = [];
  let used = 0;
  for (const turn of d.turns) {
    const ids = bytes(turn).slice(0, maxBytes);
    if (used + ids.length > budget) break;
    out.push(ids);
    used += ids.length;
  }
  return out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The error a promise rejects with; fails if it resolves or throws something else. */
export async function rejection(p: Promise<unknown> | (() => unknown)): Promise<SnnError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof SnnError) return e;
    throw e;
  }
  throw new Error('expected an SnnError');
}

/** Records every StepInput handed to `session.run` (what was actually fed); `restore()` undoes it. */
export function spyOnSteps(session: ModelSession): { readonly steps: StepInput[]; restore(): void; failNext(error: Error): void } {
  const original = session.run.bind(session);
  const steps: StepInput[] = [];
  let fail: Error | null = null;
  session.run = async (input, extra) => {
    steps.push(input);
    if (fail) { const e = fail; fail = null; throw e; }
    return original(input, extra);
  };
  return {
    steps,
    restore: () => { session.run = original; },
    failNext: (error) => { fail = error; },
  };
}

/** The real (mask-1) tokens of each row the session was given, with the position ids fed with them. */
export function fedRows(steps: readonly StepInput[]): { tokens: number[]; positions: number[] }[] {
  const rows: { tokens: number[]; positions: number[] }[] = [];
  for (const step of steps) {
    const total = step.past + step.seq;
    for (let b = 0; b < step.batch; b++) {
      const row = { tokens: [] as number[], positions: [] as number[] };
      for (let j = 0; j < step.seq; j++) {
        if (step.mask[b * total + step.past + j] !== 1n) continue;
        row.tokens.push(Number(step.ids[b * step.seq + j]));
        row.positions.push(Number(step.positions[b * step.seq + j]));
      }
      rows.push(row);
    }
  }
  return rows;
}

/** The positions fed with `tokens` in `steps` (the row whose first position is `from`, else the first row with these tokens). */
export function fedPositions(steps: readonly StepInput[], tokens: readonly number[], from: number): number[] | undefined {
  const same = fedRows(steps).filter((r) => r.tokens.length === tokens.length && r.tokens.every((t, i) => t === tokens[i]));
  return (same.find((r) => r.positions[0] === from) ?? same[0])?.positions;
}
