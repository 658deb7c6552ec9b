// The public shapes of the multi-turn coherence suite: options, one result per check, the report.
import type { RunnableModel } from '../runtime/model.js';
import type { ForwardOptions, ForwardOutput, TspOptions } from '../runtime/tsp.js';
import type { InputIds } from '../runtime/forward-input.js';

/** A JSON value (what `--json` prints). */
export type Json = number | string | boolean | null | readonly Json[] | { readonly [key: string]: Json };

export type CheckName = 'position-ids' | 'attention-mask' | 'cache-equivalence' | 'multi-turn-coherence' | 'recall';

/**
 * `pass` and `fail` are verdicts; `reported` is a measurement that is shown but not required
 * (recall on a model that is not instruction-tuned).
 */
export type CheckStatus = 'pass' | 'fail' | 'reported';

export interface CheckResult {
  readonly check: CheckName;
  readonly status: CheckStatus;
  /** One sentence: what was measured against what bound; for a failure, the first violation. */
  readonly reason: string;
  /** The numbers behind the verdict. */
  readonly measured: { readonly [key: string]: Json };
  /** Every violation found (the first 20), each naming the conversation, turn and values. */
  readonly failures: readonly string[];
  readonly seconds: number;
}

/** One dialogue as stored in the JSONL file (Topical-Chat layout). */
export interface DialogueRecord {
  readonly conversation_id: string;
  readonly turns: readonly { readonly speaker: string; readonly text: string }[];
}

/** What the suite needs of a processor: TemporalSpikeProcessor has it, a test's broken wrapper too. */
export interface CoherenceProcessor {
  forward(inputIds: InputIds, opts?: ForwardOptions): Promise<ForwardOutput>;
  getPositionIds(batchId: string): number[];
  getTokenIds(batchId: string): number[];
  resetCache(batchId?: string): void;
}

export interface CoherenceOptions {
  /** A JSONL file of dialogues, or the dialogues themselves (default: the committed Topical-Chat subset). */
  readonly dialogues?: string | readonly DialogueRecord[];
  /** Dialogues used (default 20; the first ones of the file). */
  readonly count?: number;
  /** Tokens a conversation may hold (default: the model's positions). */
  readonly maxContextLength?: number;
  /** Tokens per turn at most, speaker label and newline included (default: a quarter of the context). */
  readonly maxTurnTokens?: number;
  /** Largest |Δlogit| allowed between a cached step and a full recompute, or padded and unpadded rows (default 1e-4). */
  readonly tolerance?: number;
  /** Largest mean per-turn NLL ratio SNN / ANN allowed (default 1.25). */
  readonly maxNllRatio?: number;
  /** Test the source ANN instead of the SNN (no SNN/ANN ratio then). */
  readonly ann?: boolean;
  /** Skip the recall probe (it generates text: the slowest part on a large model). */
  readonly recall?: boolean;
  /** The processor under test (default: a TemporalSpikeProcessor); the reference computations never go through it. */
  readonly createProcessor?: (model: RunnableModel, opts: TspOptions) => CoherenceProcessor;
  readonly onProgress?: (stage: string, done: number, total: number) => void;
}

export interface CoherenceReport {
  readonly model: string;
  readonly recipe: string | null;
  readonly timesteps: number | null;
  /** Which network the checks ran on. */
  readonly tested: 'snn' | 'ann';
  /** Every check passed or was only reported. */
  readonly passed: boolean;
  readonly checks: readonly CheckResult[];
  readonly dialogues: {
    readonly source: string;
    readonly count: number;
    readonly turns: number;
    readonly tokens: number;
    /** How the text was shaped to fit the context. */
    readonly format: string;
  };
  readonly contextLength: number;
  readonly tolerance: number;
  readonly seconds: number;
}
