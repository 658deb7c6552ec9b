// Deliberately broken models and processors for the coherence tests: each breaks one thing the suite must catch.
import type { ChatMessage, Tokenizer } from '../../src/tokenizer/tokenizer.js';
import type { ModelSpec } from '../../src/ir/types.js';
import type { RunnableModel } from '../../src/runtime/model.js';
import { ModelSession, type StepInput, type StepOutput } from '../../src/runtime/session.js';
import { TemporalSpikeProcessor, type TspOptions } from '../../src/runtime/tsp.js';
import type { CoherenceProcessor } from '../../src/coherence/index.js';

type OrtSession = ConstructorParameters<typeof ModelSession>[1];

/** What a tampered session does to a step: change its input, its output, or both. */
export interface Tamper {
  readonly input?: (input: StepInput) => StepInput;
  readonly output?: (output: StepOutput, input: StepInput) => StepOutput;
}

/** A session that runs another one with its input or output tampered with. */
export class TamperedSession extends ModelSession {
  constructor(private readonly inner: ModelSession, private readonly tamper: Tamper) {
    super(inner.spec, null as unknown as OrtSession, 16, []);
  }

  override async run(input: StepInput, extra: readonly string[] = []): Promise<StepOutput> {
    const fed = this.tamper.input?.(input) ?? input;
    const out = await this.inner.run(fed, extra);
    return this.tamper.output?.(out, fed) ?? out;
  }
}

/**
 * Poses as a bundle: its "SNN" is the wrapped model's ANN, tampered with (or not: then it passes);
 * its ANN reference is the ANN as is. The ANN keeps the tests fast.
 */
export class FakeBundle implements RunnableModel {
  readonly timesteps = 16;
  readonly recipe = 'fake';

  constructor(private readonly inner: RunnableModel, private readonly tamper: Tamper = {}, readonly tokenizer: Tokenizer = inner.tokenizer) {}

  get name(): string { return `fake bundle over ${this.inner.name}`; }
  get spec(): ModelSpec { return this.inner.spec; }

  async session(ann: boolean): Promise<ModelSession> {
    const s = await this.inner.session(true);
    return ann ? s : new TamperedSession(s, this.tamper);
  }

  async release(): Promise<void> {}
}

/** Cached steps see zeros instead of the cached K/V. */
export const dropCache: Tamper = {
  input: (i) => (i.past === 0 ? i : { ...i, cache: i.cache.map((kv) => new Float32Array(kv.length)) }),
};

/** Cached steps run one position behind the one they were given (never below 0, so the model still runs). */
export const shiftCachedPositions: Tamper = {
  input: (i) => (i.past === 0 ? i : { ...i, positions: i.positions.map((p) => (p > 0n ? p - 1n : p)) }),
};

/** Every key is attended, padding included. */
export const ignoreMask: Tamper = {
  input: (i) => ({ ...i, mask: new BigInt64Array(i.mask.length).fill(1n) }),
};

/** Logits flattened toward uniform: a much worse "SNN" than its ANN. */
export const flattenLogits: Tamper = {
  output: (o) => ({ ...o, logits: o.logits.map((x) => 0.2 * x) }),
};

/** A processor that forgets every conversation before each forward: positions restart at 0. */
export function forgetfulProcessor(model: RunnableModel, opts: TspOptions): CoherenceProcessor {
  const tsp = new TemporalSpikeProcessor(model, opts);
  return {
    forward: (ids, o) => {
      for (const id of o?.batchIds ?? []) if (tsp.conversations().includes(id)) tsp.resetCache(id);
      return tsp.forward(ids, o);
    },
    getPositionIds: (id) => tsp.getPositionIds(id),
    getTokenIds: (id) => tsp.getTokenIds(id),
    resetCache: (id) => tsp.resetCache(id),
  };
}

/** A processor that drops the newest cached token before each forward: positions run one behind. */
export function offByOneProcessor(model: RunnableModel, opts: TspOptions): CoherenceProcessor {
  const tsp = new TemporalSpikeProcessor(model, opts);
  return {
    forward: (ids, o) => {
      for (const id of o?.batchIds ?? []) {
        if (tsp.conversations().includes(id)) tsp.truncateCache(id, tsp.getTokenIds(id).length - 1);
      }
      return tsp.forward(ids, o);
    },
    getPositionIds: (id) => tsp.getPositionIds(id),
    getTokenIds: (id) => tsp.getTokenIds(id),
    resetCache: (id) => tsp.resetCache(id),
  };
}

/** A processor that ignores the context length it is given (it uses the model's). */
export function unboundedProcessor(model: RunnableModel, opts: TspOptions): CoherenceProcessor {
  const { maxContextLength: _ignored, ...rest } = opts;
  return new TemporalSpikeProcessor(model, rest);
}

/**
 * A "model" that always continues the cycle "rosalind " from the last token (any other token → "r"),
 * whatever the context: it recalls the name every time, by construction. K/V are zeros.
 */
export class CyclingModel implements RunnableModel {
  readonly timesteps = 16;
  readonly recipe = 'fake';
  constructor(private readonly inner: RunnableModel, readonly tokenizer: Tokenizer = inner.tokenizer) {}
  get name(): string { return 'cycling fake'; }
  get spec(): ModelSpec { return this.inner.spec; }
  async session(): Promise<ModelSession> {
    const inner = await this.inner.session(true);
    const spec = this.spec;
    const cycle = Array.from(Buffer.from('rosalind '));
    return new TamperedSession(inner, {
      input: (i) => i,
      output: (_o, i) => {
        const V = spec.vocabSize;
        const logits = new Float32Array(i.batch * i.seq * V);
        for (let k = 0; k < i.batch * i.seq; k++) {
          const at = cycle.indexOf(Number(i.ids[k]));
          logits[k * V + cycle[at < 0 ? 0 : (at + 1) % cycle.length]!] = 10;
        }
        const kv = spec.numKvHeads * (i.past + i.seq) * spec.headDim * i.batch;
        return { logits, present: Array.from({ length: 2 * spec.numLayers }, () => new Float32Array(kv)), extra: new Map() };
      },
    });
  }
  async release(): Promise<void> {}
}

/** The same tokenizer, claiming a chat template (a plain "User: …" rendering): an "instruction-tuned" model. */
export function withChatTemplate(tok: Tokenizer): Tokenizer {
  return {
    encode: (text) => tok.encode(text),
    decode: (ids) => tok.decode(ids),
    vocabSize: tok.vocabSize,
    eosTokenId: tok.eosTokenId,
    bosTokenId: tok.bosTokenId,
    hasChatTemplate: true,
    applyChatTemplate: (messages: readonly ChatMessage[]) => tok.encode(`${messages.map((m) => `${m.role}: ${m.content}\n`).join('')}assistant:`),
  };
}
