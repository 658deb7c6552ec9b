// What the processor actually fed: a RunnableModel wrapper that records every session step, and the rows read back from it.
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ModelSpec } from '../ir/types.js';
import type { RunnableModel } from '../runtime/model.js';
import type { ModelSession, StepInput } from '../runtime/session.js';
import type { DeviceChoice } from '../runtime/device.js';

/** A step as handed to `ModelSession.run` (the cache itself is not kept). */
export interface RecordedStep {
  readonly ann: boolean;
  readonly batch: number;
  readonly seq: number;
  readonly past: number;
  readonly ids: BigInt64Array;
  readonly mask: BigInt64Array;
  readonly positions: BigInt64Array;
}

/**
 * Wraps a model so that every step any processor runs on it is recorded, as given (copied before the
 * run). The processor's own outputs are claims; these records are what the model was fed.
 */
export class RecordingModel implements RunnableModel {
  readonly steps: RecordedStep[] = [];

  constructor(private readonly inner: RunnableModel) {}

  get name(): string { return this.inner.name; }
  get spec(): ModelSpec { return this.inner.spec; }
  get tokenizer(): Tokenizer { return this.inner.tokenizer; }
  get timesteps(): number | null { return this.inner.timesteps; }
  get recipe(): string | null { return this.inner.recipe; }
  get device(): DeviceChoice { return this.inner.device; }

  async session(ann: boolean): Promise<ModelSession> {
    const inner = await this.inner.session(ann);
    // A view of the session with its own `run`: the shared session object is never modified.
    const spy = Object.create(inner) as ModelSession;
    spy.run = (input: StepInput, extra?: readonly string[]) => {
      this.steps.push({ ann, batch: input.batch, seq: input.seq, past: input.past, ids: input.ids.slice(), mask: input.mask.slice(), positions: input.positions.slice() });
      return inner.run(input, extra);
    };
    return spy;
  }

  /** The wrapped model belongs to the caller: nothing to release here. */
  async release(): Promise<void> {}
}

/** One row of a recorded step, read from the mask: what it attends to and which tokens it feeds. */
export interface FedRow {
  /** Tokens at attended query slots, in order. */
  readonly tokens: readonly number[];
  /** The position ids fed with them. */
  readonly positions: readonly number[];
  /** Attended key slots among the cached ones. */
  readonly cachedKeys: number;
  /** Attended key slots among this step's tokens. */
  readonly newKeys: number;
  /** The attended query slots are one contiguous run (no hole of padding inside a row's tokens). */
  readonly contiguous: boolean;
  /** The row has masked slots (padding, or cache slots of longer rows). */
  readonly padded: boolean;
}

export function fedRows(step: RecordedStep): FedRow[] {
  const total = step.past + step.seq;
  return Array.from({ length: step.batch }, (_, b) => {
    const tokens: number[] = [];
    const positions: number[] = [];
    const slots: number[] = [];
    let cachedKeys = 0;
    for (let j = 0; j < step.past; j++) if (step.mask[b * total + j] !== 0n) cachedKeys++;
    for (let j = 0; j < step.seq; j++) {
      if (step.mask[b * total + step.past + j] === 0n) continue;
      tokens.push(Number(step.ids[b * step.seq + j]));
      positions.push(Number(step.positions[b * step.seq + j]));
      slots.push(j);
    }
    const contiguous = slots.every((s, i) => i === 0 || s === slots[i - 1]! + 1);
    return { tokens, positions, cachedKeys, newKeys: tokens.length, contiguous, padded: cachedKeys + tokens.length < total };
  });
}

/** The row of `rows` feeding exactly `tokens` (not yet `taken`), preferring the one whose positions start at `from`. */
export function findFedRow(rows: readonly FedRow[], tokens: readonly number[], from: number, taken: ReadonlySet<FedRow> = new Set()): FedRow | undefined {
  const same = rows.filter((r) => !taken.has(r) && r.tokens.length === tokens.length && r.tokens.every((t, i) => t === tokens[i]));
  return same.find((r) => r.positions[0] === from) ?? same[0];
}

export function arange(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

export function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** A list for a message: whole when short, else its ends. */
export function showList(a: readonly number[]): string {
  return a.length <= 6 ? `[${a.join(', ')}]` : `[${a.slice(0, 3).join(', ')}, …, ${a.slice(-2).join(', ')}] (${a.length})`;
}
