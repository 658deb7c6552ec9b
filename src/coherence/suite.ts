// runCoherenceSuite: the multi-turn checks on one model (positions, masks, cache, coherence, recall), each a verdict with its reason.
import { KEY_ALIGNMENT } from '../runtime/batch.js';
import { SnnError } from '../errors/index.js';
import type { RunnableModel } from '../runtime/model.js';
import { TemporalSpikeProcessor } from '../runtime/tsp.js';
import { checkAttentionMask } from './attention-mask.js';
import { checkCacheEquivalence } from './cache-equivalence.js';
import { DEFAULT_DIALOGUES, describeFormat, formatDialogue, readDialogues, type Dialogue } from './dialogues.js';
import { checkMultiTurn } from './multi-turn.js';
import { checkPositionIds } from './position-ids.js';
import { probeRecall } from './recall.js';
import { RecordingModel } from './recording.js';
import { round } from './result.js';
import { runDialogues } from './run-dialogues.js';
import type { CheckResult, CoherenceOptions, CoherenceReport } from './types.js';

export const DEFAULT_DIALOGUE_COUNT = 20;
/** Cached ≡ recomputed bit for bit (docs/design.md §5): any difference fails, with its position. */
export const DEFAULT_TOLERANCE = 0;
export const DEFAULT_MAX_NLL_RATIO = 1.25;

/**
 * Runs the multi-turn coherence suite on a model (a .snn bundle: its SNN, compared with its ANN).
 * Real dialogues go turn by turn through the processor's KV cache, every conversation in the same
 * batch; what the session was actually fed is recorded and checked. Every check can fail, and says why.
 * @example
 * const report = await runCoherenceSuite(await loadBundle('shakespeare.snn'), { count: 5 });
 * report.passed; // true
 * report.checks.map((c) => `${c.check}: ${c.status} — ${c.reason}`);
 */
export async function runCoherenceSuite(model: RunnableModel, opts: CoherenceOptions = {}): Promise<CoherenceReport> {
  const started = performance.now();
  const o = checkOptions(model, opts);
  const progress = opts.onProgress ?? (() => {});
  const make = opts.createProcessor ?? ((m, tspOpts) => new TemporalSpikeProcessor(m, tspOpts));
  const { source, records } = readDialogues(opts.dialogues ?? DEFAULT_DIALOGUES);
  const format = (budget: number) => (r: (typeof records)[number]) => formatDialogue(model.tokenizer, r, { maxTurnTokens: o.maxTurnTokens, budget });
  const dialogues = records.slice(0, o.count).map(format(o.context)).filter((d) => d.turns.length >= 2);
  if (dialogues.length === 0) throw new SnnError('TEXT_INVALID', { message: `none of the first ${o.count} dialogues keeps 2 turns within ${o.context} tokens`, at: source, hint: 'give dialogues with at least two turns, or a larger --max-turn-tokens' });

  const session = await model.session(o.ann);
  const recorder = new RecordingModel(model);
  const run = await runDialogues(make(recorder, { maxContextLength: o.context, overflow: 'error', ann: o.ann }), recorder, dialogues, (d, t) => progress('dialogues', d, t));
  const annRun = o.ann ? null : await runDialogues(make(model, { maxContextLength: o.context, overflow: 'error', ann: true }), new RecordingModel(model), dialogues, (d, t) => progress('dialogues (ANN)', d, t));

  const checks: CheckResult[] = [];
  const stage = async (name: string, check: () => Promise<CheckResult>) => {
    progress(name, 0, 1);
    checks.push(await check());
    progress(name, 1, 1);
  };
  await stage('position ids', () => checkPositionIds(run, { model, make, ann: o.ann, context: o.context, tolerance: o.tolerance, session, stream: stream(records.map(format(Infinity)), 4 * o.context) }));
  const histories = dialogues.slice(0, 2).map((d) => d.turns.flatMap((t) => t.tokens).slice(0, o.context - KEY_ALIGNMENT));
  await stage('attention mask', () => checkAttentionMask(run, session, histories, o.tolerance));
  checks.push(await checkCacheEquivalence(run, session, o.tolerance, (d, t) => progress('cache equivalence', d, t)));
  const annSession = annRun ? await model.session(true) : null;
  checks.push(await checkMultiTurn({ run, session, ann: annRun && annSession ? { run: annRun, session: annSession } : null, maxNllRatio: o.maxNllRatio, onDialogue: (d, t) => progress('multi-turn coherence', d, t) }));
  if (o.recall) await stage('recall', () => probeRecall(model, { ann: o.ann, context: o.context }));
  const turns = dialogues.reduce((a, d) => a + d.turns.length, 0);
  return {
    model: model.name,
    recipe: model.recipe,
    timesteps: o.ann ? null : model.timesteps,
    tested: o.ann ? 'ann' : 'snn',
    passed: checks.every((c) => c.status !== 'fail'),
    checks,
    dialogues: {
      source,
      count: dialogues.length,
      turns,
      tokens: dialogues.reduce((a, d) => a + d.turns.reduce((b, t) => b + t.tokens.length, 0), 0),
      format: describeFormat(o.maxTurnTokens, o.context),
    },
    contextLength: o.context,
    tolerance: o.tolerance,
    seconds: round((performance.now() - started) / 1000, 4) ?? 0,
  };
}

interface Resolved { count: number; context: number; maxTurnTokens: number; tolerance: number; maxNllRatio: number; ann: boolean; recall: boolean }

function checkOptions(model: RunnableModel, opts: CoherenceOptions): Resolved {
  const bad = (at: string, message: string) => new SnnError('OPTION_INVALID', { message, at });
  const max = model.spec.maxPositions;
  const context = opts.maxContextLength ?? max;
  if (!Number.isInteger(context) || context < 2 * KEY_ALIGNMENT || context > max) throw bad('maxContextLength', `maxContextLength must be an integer in [${2 * KEY_ALIGNMENT}, ${max}], got ${String(opts.maxContextLength)}`);
  const maxTurnTokens = opts.maxTurnTokens ?? Math.floor(context / 4);
  if (!Number.isInteger(maxTurnTokens) || maxTurnTokens < 4 || maxTurnTokens > context / 2) throw bad('maxTurnTokens', `maxTurnTokens must be an integer in [4, ${context / 2}] (two turns must fit the context), got ${String(opts.maxTurnTokens)}`);
  const count = opts.count ?? DEFAULT_DIALOGUE_COUNT;
  if (!Number.isInteger(count) || count < 1) throw bad('count', `count must be an integer ≥ 1, got ${String(opts.count)}`);
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  if (!(tolerance >= 0)) throw bad('tolerance', `tolerance must be a number ≥ 0 (0: bit for bit), got ${String(opts.tolerance)}`);
  const maxNllRatio = opts.maxNllRatio ?? DEFAULT_MAX_NLL_RATIO;
  if (!(maxNllRatio > 0)) throw bad('maxNllRatio', `maxNllRatio must be a number > 0, got ${String(opts.maxNllRatio)}`);
  const ann = opts.ann ?? model.timesteps === null;
  if (!ann && model.timesteps === null) throw bad('ann', `${model.name} has no SNN: run the suite with ann: true`);
  return { count, context, maxTurnTokens, tolerance, maxNllRatio, ann, recall: opts.recall ?? true };
}

/** Turns of consecutive dialogues until `tokens` tokens: one long conversation for the context-limit probes. */
function stream(dialogues: readonly Dialogue[], tokens: number): number[][] {
  const out: number[][] = [];
  let n = 0;
  for (const d of dialogues) {
    for (const t of d.turns) {
      if (n >= tokens) return out;
      out.push([...t.tokens]);
      n += t.tokens.length;
    }
  }
  return out;
}
