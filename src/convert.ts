// convert(): model → IR → recipe passes → calibration → .snn bundle. The one orchestrator of the pipeline.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCalibrationData } from './calibrate/data.js';
import { calibrateThresholds } from './calibrate/observers.js';
import { parseThreshold, type ThresholdMode } from './calibrate/thresholds.js';
import { writeBundle } from './emit/bundle/write.js';
import { sha256File } from './emit/bundle/hash.js';
import { SnnError } from './errors/index.js';
import { importHfModel } from './import/hf/index.js';
import { resolveModel } from './import/hub.js';
import { loadTokenizer } from './tokenizer/tokenizer.js';
import { checkConversionMemory } from './weights/memory.js';
import { parseCode, type SpikeCode } from './ops/spike-code.js';
import { importOnnxModel } from './import/onnx/index.js';
import { onnxOnlyFolderModel } from './import/onnx/source.js';
import { parseRecipe, parseTimesteps, runRecipe, type Recipe } from './passes/pipeline.js';

/** The embedded default model: a small GPT-2 trained on TinyShakespeare (fixtures/shakespeare-gpt2). */
export const DEFAULT_MODEL = fileURLToPath(new URL('../fixtures/shakespeare-gpt2', import.meta.url));

/**
 * Default T per code. Weighted: the smallest T whose perplexity ratio on the dev split (the last 10 %
 * of the calibration corpus, training side) is ≤ 1.005 on both shipped models — GPT-2 / Llama dev
 * ratios T=5 1.034/1.030, T=6 1.0057/1.0047, T=7 1.0019/1.0028, T=8 1.0000/1.0007 (32 windows,
 * bench/choose-defaults.mjs; heldout.txt never looked at). Rate: the round-1 default.
 */
export const DEFAULT_TIMESTEPS: Record<SpikeCode, number> = { weighted: 7, rate: 16 };
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
  /** Spike code (SPEC §2): 'weighted' (default) or 'rate'. */
  readonly code?: SpikeCode | string;
  /** Output bundle path; default `<model name>.snn` in the working directory. */
  readonly out?: string;
  readonly force?: boolean;
  readonly calibration?: { readonly text?: string; readonly samples?: number; readonly length?: number; readonly seed?: number; readonly specialTokens?: boolean };
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
  readonly seconds: number;
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
  progress({ stage: 'resolve', message: `resolving ${model ?? 'the embedded default model'}` });
  const resolved = await resolveModel(model ?? DEFAULT_MODEL, { ...(opts.revision ? { revision: opts.revision } : {}), offline: opts.offline ?? false, onProgress: (m) => progress({ stage: 'resolve', message: m }) });
  if (resolved.kind === 'bundle') {
    throw new SnnError('OP_UNSUPPORTED', { message: 'this is already a .snn bundle', at: resolved.path, hint: 'to change T use calibrateTimesteps / eval --timesteps-sweep' });
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
  const { graph, passes } = runRecipe(imported.graph, recipe, timesteps, { code, ...(levels ? { levels } : {}) });
  progress({ stage: 'passes', message: passes.map((p) => `${p.name} (${p.matched.length})`).join(', ') });
  const tokenizer = await loadTokenizer(imported.dir);
  if ((tokenizer.maxTokenId ?? 0) >= imported.graph.spec.vocabSize) throw new SnnError('TOKENIZER_INVALID', { message: `the tokenizer produces ids up to ${tokenizer.maxTokenId}, but the model has only ${imported.graph.spec.vocabSize} embeddings`, at: join(imported.dir, 'tokenizer.json'), hint: 'the tokenizer and config.json come from different models: copy both from the same repository' });
  const length = opts.calibration?.length ?? Math.min(128, imported.graph.spec.maxPositions);
  if (length > imported.graph.spec.maxPositions) throw new SnnError('OPTION_INVALID', { message: `--calib-length ${length} is longer than the model's context of ${imported.graph.spec.maxPositions} tokens`, at: '--calib-length' });
  const data = createCalibrationData(tokenizer, { numSamples: opts.calibration?.samples ?? 32, maxLength: length, ...(opts.calibration?.text ? { text: opts.calibration.text } : {}), seed: opts.calibration?.seed ?? 0, specialTokens: opts.calibration?.specialTokens ?? true });
  const cal = await calibrateThresholds(graph, data, { mode: threshold, onProgress: (done, total) => progress({ stage: 'calibrate', message: 'calibrating thresholds', done, total }) });
  const levelOf = new Map(cal.graph.nodes.filter((n) => n.op === 'Neuron').map((n) => [n.attrs['site'] as string, n.attrs['levels'] as number]));
  const sourceConfig = JSON.parse(readFileSync(join(imported.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  progress({ stage: 'write', message: `writing ${out}` });
  const bundlePath = await writeBundle({
    graph: cal.graph, sourceGraph: imported.graph, out, force: opts.force ?? false, sourceDir: imported.dir, sourceConfig,
    meta: {
      converterVersion: converterVersion(),
      source: { id: resolved.source.id, revision: resolved.source.revision, arch: imported.graph.spec.arch, sha256: Object.fromEntries([join(imported.dir, 'config.json'), ...imported.weightFiles].map((f) => [basename(f), sha256File(f)])) },
      recipe, timesteps, passes: passes.map((p) => ({ ...p, matched: [...p.matched] })),
      calibration: { text: cal.tokens ? data.text : null, textSha256: cal.tokens ? sha256File(data.text) : null, samples: data.numSamples, length: data.maxLength, statistic: threshold, tokens: cal.tokens },
      neurons: cal.sites.map((s) => ({ ...s, levels: levelOf.get(s.site) ?? 1 })),
    },
    ...(opts.addExtra ? { addExtra: opts.addExtra } : {}),
    onStep: (s) => progress({ stage: 'write', message: s }),
  });
  return { bundlePath, recipe, timesteps, code: graph.spiking!.code, neuronSites: cal.sites.length, passes: passes.map((p) => p.name), threshold, seconds: (Date.now() - started) / 1000 };
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
