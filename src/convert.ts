// convert(): model → IR → recipe passes → calibration → .snn bundle. The one orchestrator of the pipeline.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCalibrationData, DEFAULT_CALIBRATION_TEXT } from './calibrate/data.js';
import { calibrateThresholds, ThresholdObservers } from './calibrate/observers.js';
import { parseThreshold, type ThresholdMode } from './calibrate/thresholds.js';
import { writeBundle } from './emit/bundle/write.js';
import { sha256File } from './bundle/hash.js';
import { SnnError } from './errors/index.js';
import type { Graph } from './ir/types.js';
import { importHfModel } from './import/hf/index.js';
import { resolveModel } from './import/hub.js';
import { loadTokenizer } from './tokenizer/tokenizer.js';
import { checkConversionMemory, gib } from './weights/memory.js';
import { stageF32Weights } from './weights/staging.js';
import { checkHeadroom, parseCode, type SpikeCode } from './ops/spike-code.js';
import { KeptSynapsePlans, keepSynapsePlans } from './ops/linear.js';
import { calibrationPlan, type CalibrationPlan } from './calibrate/plan.js';
import { SAMPLED_DOCUMENT_LENGTH, sampleFromModel, samplingBytes } from './calibrate/sample.js';
import { parseSamplerLinears, type SamplerLinears } from './options/values.js';
import { importOnnxModel } from './import/onnx/index.js';
import { onnxOnlyFolderModel } from './import/onnx/source.js';
import { parseRecipe, parseTimesteps, runRecipe, type Recipe } from './passes/pipeline.js';
import { neuronsOf } from './ops/spiking.js';
import { reportWindowBytes } from './report/budget.js';
import { REPORT_CHUNK } from './report/chunks.js';
import { REPORT_DEFAULTS } from './report/collect.js';

/** The embedded default model: a small GPT-2 trained on TinyShakespeare (fixtures/shakespeare-gpt2). */
export const DEFAULT_MODEL = fileURLToPath(new URL('../fixtures/shakespeare-gpt2', import.meta.url));

/**
 * Default T per code. Weighted: with DEFAULT_HEADROOM's digit, the smallest T whose dev-split KL is
 * ≤ 0.003 and perplexity ratio ≤ 1.005 on both shipped models (the dev split is the last 10 % of the
 * calibration corpus, training side; bench/choose-defaults.mjs, 32 windows; heldout.txt never looked
 * at). Dev KL / ratio GPT-2, Llama: h=1 T=7 0.0070 / 1.0073, 0.0056 / 1.0059; h=1 T=8 0.0017 / 1.0025,
 * 0.0015 / 1.0016 (h=0 T=7 was 0.0018 / 1.0023 on GPT-2: the extra digit keeps the old resolution).
 * Rate: the round-1 default.
 */
export const DEFAULT_TIMESTEPS: Record<SpikeCode, number> = { weighted: 8, rate: 16 };
/**
 * Default headroom digits per code (ops/spike-code.ts unitCount): the weighted code reserves its top
 * digit above the calibrated max, so a value up to ~2× anything calibration saw is coded, not cut.
 * On the shipped dev split one digit cut the clipped share from 2.2e-4 to 2e-7 (GPT-2) at the same
 * KL; a second digit gave no further dev gain (bench/choose-defaults.mjs). Rate coding has none.
 */
export const CALIBRATION_SOURCES = ['corpus', 'model'] as const;
/**
 * Where calibration text comes from when the user gives none: text sampled from the source ANN itself.
 * Chosen on dev text (bench/choose-defaults.mjs, CALIB_SOURCE=model, headroom 1, T=8; each unseen
 * fixture's training-side calib.txt, the shipped GPT-2's dev split): KL code-llama 0.0014 (shipped
 * corpus) → 0.00015 (model-sampled), chat-gpt2 0.000026 → 0.000026, bpe-llama 0.00012 (model-sampled),
 * shakespeare-gpt2 0.0017 → 0.0017. A model's own samples fit its domain; the shipped corpus fits
 * only Shakespeare.
 */
export const DEFAULT_CALIBRATION_SOURCE: CalibrationSource = 'model';
export type CalibrationSource = (typeof CALIBRATION_SOURCES)[number];

function parseCalibrationSource(value: string, text: string | undefined): CalibrationSource {
  if (!(CALIBRATION_SOURCES as readonly string[]).includes(value)) throw new SnnError('OPTION_INVALID', { message: `unknown calibration source ${JSON.stringify(value)} (valid: ${CALIBRATION_SOURCES.join(', ')})`, at: '--calib-source' });
  if (text !== undefined && value === 'model') throw new SnnError('OPTION_INVALID', { message: '--calib-source model samples text from the model, but --calib-text gives a text', at: '--calib-source', hint: 'give one of them' });
  return value as CalibrationSource;
}

/** The sampler of model-sampled text (parseSamplerLinears), refused when the text is not sampled from the model. */
function calibrationSampler(value: string, source: CalibrationSource): SamplerLinears {
  const linears = parseSamplerLinears(value);
  if (source !== 'model') throw new SnnError('OPTION_INVALID', { message: '--calib-sampler chooses how model-sampled text is drawn, but the calibration text is not sampled from the model', at: '--calib-sampler', hint: 'drop --calib-sampler, or use --calib-source model without --calib-text' });
  return linears;
}

export const DEFAULT_HEADROOM: Record<SpikeCode, number> = { weighted: 1, rate: 0 };
/** Default θ statistic per code: the weighted code's range is cheap (one more digit doubles it), so it never clips calibration values. */
export const DEFAULT_THRESHOLD: Record<SpikeCode, ThresholdMode> = { weighted: 'max', rate: 'p99.9' };

export interface ConvertProgress {
  readonly stage: 'resolve' | 'import' | 'passes' | 'calibrate' | 'write';
  readonly message: string;
  readonly done?: number;
  readonly total?: number;
}

export interface ConvertOptions {
  /** Default DEFAULT_TIMESTEPS[code]. */
  readonly timesteps?: number;
  readonly recipe?: Recipe | string;
  /** Spike code (docs/design.md §2): 'weighted' (default) or 'rate'. */
  readonly code?: SpikeCode | string;
  /** Output bundle path; default `<model name>.snn` in the working directory. */
  readonly out?: string;
  readonly force?: boolean;
  readonly calibration?: {
    readonly text?: string;
    /** Where calibration windows come from when no text is given: the shipped corpus (default) or text sampled from the source ANN. */
    readonly source?: CalibrationSource | string;
    readonly samples?: number; readonly length?: number; readonly seed?: number; readonly specialTokens?: boolean;
    /** Model-sampled documents (windows beyond one document) drawn through INT8 linears or the float ANN (default SAMPLER_LINEARS). */
    readonly sampler?: SamplerLinears | string;
  };
  /** Weighted code: digits above the calibrated range (default DEFAULT_HEADROOM[code]). */
  readonly headroom?: number;
  readonly threshold?: ThresholdMode | string;
  /**
   * Spike levels per step (multi-level neurons), overriding the recipe's default: a function of the
   * site, an integer for every site, or `suffix=k,…` (e.g. `ln_1=2,mlp.act=2`; unnamed sites get 1).
   */
  readonly levels?: ((site: string) => number) | number | string;
  readonly revision?: string;
  readonly offline?: boolean;
  readonly allowNonFinite?: boolean;
  /** For a bare ONNX file: the folder holding config.json and the tokenizer (default: the file's folder or the one above). */
  readonly tokenizer?: string;
  readonly onProgress?: (p: ConvertProgress) => void;
  /** Writes extra content into the bundle before it is sealed (the spike report). */
  readonly addExtra?: (tempDir: string) => Promise<void>;
  /** Bytes the conversion may use (default: the memory available now); a model estimated not to fit is refused before loading. */
  readonly memoryLimit?: number;
}

export interface ConvertSummary {
  readonly bundlePath: string;
  readonly recipe: Recipe;
  readonly timesteps: number;
  readonly code: SpikeCode;
  readonly neuronSites: number;
  readonly passes: readonly string[];
  readonly threshold: ThresholdMode;
  readonly headroom: number;
  /** What calibration ran on: text, tokens, positions covered of the context. */
  readonly calibration: CalibrationPlan & { readonly source: string; readonly text: string; readonly tokens: number; readonly seconds: number };
  readonly seconds: number;
  /** What the importer changed on the way (an fp16 export's casts, a merged decoder's branch), as in meta.json's source.notices. */
  readonly notices: readonly string[];
}

/**
 * Converts a model to a spiking bundle.
 * @example
 * const { bundlePath } = await convert('fixtures/shakespeare-gpt2', { timesteps: 16, recipe: 'faithful', out: 'shakespeare.snn' });
 */
export async function convert(model: string | undefined, opts: ConvertOptions = {}): Promise<ConvertSummary> {
  const started = Date.now();
  const progress = opts.onProgress ?? (() => undefined);
  const code = parseCode(opts.code ?? 'weighted');
  const timesteps = parseTimesteps(opts.timesteps ?? DEFAULT_TIMESTEPS[code]);
  const recipe = parseRecipe(opts.recipe ?? 'faithful');
  const threshold = parseThreshold(opts.threshold ?? DEFAULT_THRESHOLD[code]);
  // The default headroom leaves at least one digit for the calibrated range (T=1 runs without it).
  const headroom = recipe === 'exact' ? 0 : opts.headroom ?? Math.min(DEFAULT_HEADROOM[code], timesteps - 1);
  checkHeadroom(code, timesteps, headroom);
  const source = parseCalibrationSource(opts.calibration?.source ?? (opts.calibration?.text !== undefined ? 'corpus' : DEFAULT_CALIBRATION_SOURCE), opts.calibration?.text);
  const linears = opts.calibration?.sampler === undefined ? undefined : calibrationSampler(opts.calibration.sampler, source);
  progress({ stage: 'resolve', message: `resolving ${model ?? 'the embedded default model'}` });
  const resolved = await resolveModel(model ?? DEFAULT_MODEL, { ...(opts.revision ? { revision: opts.revision } : {}), offline: opts.offline ?? false, onProgress: (m) => progress({ stage: 'resolve', message: m }) });
  if (resolved.kind === 'bundle') {
    throw new SnnError('ALREADY_A_BUNDLE', { message: 'this is already a converted .snn bundle; convert takes the source model (HF folder, .onnx or hub id)', at: resolved.path, hint: `run it (snnconvert generate ${resolved.path}); to convert again, give the source model that its meta.json names under source.id; to compare timesteps use eval --timesteps-sweep` });
  }
  progress({ stage: 'import', message: `importing ${resolved.path}` });
  const onnxFile = resolved.kind === 'onnx' ? resolved.path : onnxOnlyFolderModel(resolved.path);
  const fromOnnx = onnxFile ? importOnnxModel(onnxFile, { ...(opts.tokenizer ? { configDir: opts.tokenizer } : resolved.kind === 'hf-dir' ? { configDir: resolved.path } : {}), allowNonFinite: opts.allowNonFinite ?? false, onWarning: (m) => progress({ stage: 'import', message: m }) }) : null;
  const imported = fromOnnx ?? importHfModel(resolved.path, { allowNonFinite: opts.allowNonFinite ?? false, onWarning: (m) => progress({ stage: 'import', message: m }) });
  if (fromOnnx) progress({ stage: 'import', message: `lifted ${fromOnnx.onnxPath}: ${Object.entries(fromOnnx.lifted).map(([rule, n]) => `${rule} ×${n}`).join(', ')}` });
  checkConversionMemory(imported.graph, { report: opts.addExtra !== undefined, at: resolved.path, ...(opts.memoryLimit !== undefined ? { availableBytes: opts.memoryLimit } : {}) });
  const out = resolve(opts.out ?? `${basename(onnxFile ? imported.dir : resolved.source.id).replace(/[^\w.-]+/g, '-')}.snn`);
  if (existsSync(out) && !opts.force) throw new SnnError('OUTPUT_EXISTS', { message: `${out} already exists`, at: out }); // before the work, not after it
  const levels = opts.levels !== undefined ? parseLevels(opts.levels) : undefined;
  const { graph: spikingGraph, passes } = runRecipe(imported.graph, recipe, timesteps, { code, headroom, ...(levels ? { levels } : {}) });
  progress({ stage: 'passes', message: passes.map((p) => `${p.name} (${p.matched.length})`).join(', ') });
  const tokenizer = await loadTokenizer(imported.dir);
  if ((tokenizer.maxTokenId ?? 0) >= imported.graph.spec.vocabSize) throw new SnnError('TOKENIZER_INVALID', { message: `the tokenizer produces ids up to ${tokenizer.maxTokenId}, but the model has only ${imported.graph.spec.vocabSize} embeddings`, at: join(imported.dir, 'tokenizer.json'), hint: 'the tokenizer and config.json come from different models: copy both from the same repository' });
  const plan = calibrationPlan(spikingGraph, { ...(opts.calibration?.length !== undefined ? { length: opts.calibration.length } : {}), ...(opts.calibration?.samples !== undefined ? { samples: opts.calibration.samples } : {}) });
  if (plan.uncovered) progress({ stage: 'calibrate', message: `warning: calibration windows of ${plan.length} tokens leave positions ${plan.uncovered} of the ${plan.context}-token context uncalibrated (${plan.why}); values there may clip` });
  // Before any weight is read: a calibration window's working set and sampling's K/V cache come on top of the weights' share.
  const memory = checkConversionMemory(imported.graph, { report: opts.addExtra !== undefined, at: resolved.path, windowBytes: plan.windowBytes, reportBytes: defaultReportWindowBytes(spikingGraph), ...(source === 'model' ? { samplingBytes: samplingBytes(spikingGraph, plan.samples, plan.length) } : {}), ...(opts.memoryLimit !== undefined ? { availableBytes: opts.memoryLimit } : {}) });
  progress({ stage: 'calibrate', message: `memory: about ${gib(memory.need)} at the peak (estimated; ${gib(memory.available)} available)` });
  // Half-precision checkpoint tensors and in-memory weights, written once as float32 files every session
  // maps instead of inlining them (weights/staging.ts); removed when the conversion ends.
  const notices = fromOnnx?.notices ?? [];
  const { dir: sourceDir, weightFiles } = imported;
  const staged = stageF32Weights([imported.graph, spikingGraph]);
  if (staged.path) progress({ stage: 'import', message: `staged ${gib(staged.bytes)} of half-precision or in-memory weights as float32 for the sessions (${staged.path})` });
  const [sourceGraph, graph] = staged.graphs as [Graph, Graph];
  try {
    const seed = opts.calibration?.seed ?? 0;
    const calStarted = Date.now();
    // Model-sampled text is observed while it is sampled when a window is one sampled document (one pass
    // over the ANN instead of two; same thresholds: calibrate/sample.ts); longer windows, joined from
    // documents, are observed in a pass of their own.
    const observers = source === 'model' && plan.length <= SAMPLED_DOCUMENT_LENGTH ? new ThresholdObservers(graph, threshold, plan.samples * plan.length) : null;
    const data = source === 'model'
      ? await sampleFromModel(graph, { samples: plan.samples, length: plan.length, seed, start: startToken(tokenizer), ...(observers ? { observers } : {}), ...(linears ? { linears } : {}), onProgress: (done, total) => progress({ stage: 'calibrate', message: `sampling calibration text from the model${observers ? ' and observing thresholds' : ''}`, done, total }) })
      : createCalibrationData(tokenizer, { numSamples: plan.samples, maxLength: plan.length, ...(opts.calibration?.text ? { text: opts.calibration.text } : {}), seed, specialTokens: opts.calibration?.specialTokens ?? true });
    const kind = source === 'model' ? 'model' : data.text === DEFAULT_CALIBRATION_TEXT ? 'shipped-corpus' : 'text';
    const cal = observers ? observers.finish(data.samples.length) : await calibrateThresholds(graph, data, { mode: threshold, onProgress: (done, total) => progress({ stage: 'calibrate', message: 'calibrating thresholds', done, total }) });
    const calibration = { ...plan, source: kind, text: data.text, tokens: cal.tokens, seconds: (Date.now() - calStarted) / 1000 };
    progress({ stage: 'calibrate', message: `calibration data: ${kind === 'shipped-corpus' ? 'the shipped TinyShakespeare corpus (give your model\'s own kind of text with --calib-text)' : data.text}, ${cal.tokens} tokens in ${plan.samples} windows, positions 0–${plan.length - 1} of ${plan.context} covered` });
    const levelOf = new Map(neuronsOf(cal.graph.nodes).map(({ attrs }) => [attrs.site, attrs.levels]));
    const sourceConfig = JSON.parse(readFileSync(join(sourceDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    progress({ stage: 'write', message: `writing ${out}` });
    // The report's spike pass emits the bundle's own graph again: it takes the synapse plans the write made
    // instead of quantizing anew. Without a report nothing is kept past the write of the forms.
    const write = () => writeBundle({
      graph: cal.graph, sourceGraph, out, force: opts.force ?? false, sourceDir, sourceConfig,
      meta: {
        converterVersion: converterVersion(),
        source: { id: resolved.source.id, revision: resolved.source.revision, arch: sourceGraph.spec.arch, sha256: Object.fromEntries([join(sourceDir, 'config.json'), ...weightFiles].map((f) => [basename(f), sha256File(f)])), ...(notices.length ? { notices: [...notices] } : {}) },
        recipe, passes: passes.map((p) => ({ ...p, matched: [...p.matched] })),
        calibration: {
          text: cal.tokens ? data.text : null, textSha256: cal.tokens && kind !== 'model' ? sha256File(data.text) : null, samples: data.numSamples, length: data.maxLength, statistic: threshold, tokens: cal.tokens,
          source: kind, seed,
          context: plan.context, positionsCovered: plan.length, uncoveredPositions: plan.uncovered, clippedShare: threshold === 'max' ? 0 : Number((1 - Number(threshold.slice(1)) / 100).toPrecision(3)),
        },
        neurons: cal.sites.map((s) => ({ ...s, levels: levelOf.get(s.site) ?? 1 })),
      },
      ...(opts.addExtra ? { addExtra: opts.addExtra } : {}),
      onStep: (s) => progress({ stage: 'write', message: s }),
    });
    const bundlePath = opts.addExtra ? await keepSynapsePlans(new KeptSynapsePlans(), write) : await write();
    return { bundlePath, recipe, timesteps, code: graph.spiking!.code, neuronSites: cal.sites.length, passes: passes.map((p) => p.name), threshold, headroom, calibration, seconds: (Date.now() - started) / 1000, notices };
  } finally {
    staged.remove();
  }
}

/** What one window of the report at its defaults needs beyond the weights (report/budget.ts). */
function defaultReportWindowBytes(graph: Graph): number {
  const maxChannels = neuronsOf(graph.nodes).reduce((m, { node }) => Math.max(m, graph.weights.get(node.weights['threshold']!)?.shape[0] ?? 0), 0);
  return reportWindowBytes({ spec: graph.spec, timesteps: graph.spiking!.timesteps, window: Math.min(REPORT_DEFAULTS.maxWindow, graph.spec.maxPositions), maxChannels, chunk: REPORT_CHUNK });
}

/** The token a model-sampled row starts from: BOS, else EOS (GPT-2's document separator), else 0. */
function startToken(tokenizer: { readonly bosTokenId: number | null; readonly eosTokenId: number | null }): number {
  return tokenizer.bosTokenId ?? tokenizer.eosTokenId ?? 0;
}

/** `--levels`: an integer for every site, or `suffix=k,…` for the sites whose name ends with a suffix. */
export function parseLevels(spec: ((site: string) => number) | number | string): (site: string) => number {
  if (typeof spec === 'function') return spec;
  const bad = () => new SnnError('OPTION_INVALID', { message: `--levels must be a positive integer or suffix=k,… (e.g. ln_1=2,mlp.act=2), got ${JSON.stringify(spec)}`, at: '--levels' });
  const level = (v: string | number) => {
    const n = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 64) throw bad();
    return n;
  };
  if (typeof spec === 'number' || /^\s*\d+\s*$/.test(spec)) { const k = level(spec); return () => k; }
  const rules = spec.split(',').map((part) => {
    const [suffix, k] = part.split('=');
    if (!suffix?.trim() || k === undefined) throw bad();
    return { suffix: suffix.trim(), k: level(k) };
  });
  return (site) => rules.find((r) => site === r.suffix || site.endsWith(`.${r.suffix}`))?.k ?? 1;
}

export function converterVersion(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}
