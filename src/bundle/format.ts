// The .snn bundle format: file names, meta.json and graph.json schemas, and the forms a bundle runs. Read (runtime) and write (emit) share these.
import { z } from 'zod';
import { EXECUTIONS } from '../options/values.js';

export { EXECUTIONS, type Execution } from '../options/values.js';

export const BUNDLE_FORMAT = 'snnconvert-bundle';
/**
 * 2: the bundle stores every ONNX form it runs (meta.json `forms`); T lives in graph.json alone.
 * 3: integer synapse weights are stored as INT8 planes (`<node>.synapse.plane0`, `.plane1`) that native
 * forms multiply on the 8-bit integer GEMM, instead of one INT8/INT16 tensor. Format 2 bundles still read and run.
 */
export const BUNDLE_FORMAT_VERSION = 3;
/** The oldest format read as it is (older ones are refused with the way to upgrade them). */
export const OLDEST_READ_FORMAT_VERSION = 2;
/** The format before stored forms: refused by readBundle with the way to upgrade it (`snnconvert upgrade`). */
export const FORMLESS_FORMAT_VERSION = 1;

export const FILES = {
  config: 'config.json',
  weights: 'weights.safetensors',
  snnModel: 'model.onnx',
  /** Synapse integers (INT8 planes; INT8/INT16 in format 2) and scales (F32), raw, 64-byte aligned: ONNX external data shared by every form. */
  synapses: 'synapses.bin',
  annModel: 'ann.onnx',
  graph: 'graph.json',
  meta: 'meta.json',
  report: 'spike.report',
} as const;

/** Files every bundle holds (besides meta.json, which lists them all with their sha256). */
export const REQUIRED_FILES = [FILES.config, FILES.weights, FILES.snnModel, FILES.annModel, FILES.graph, 'tokenizer.json', 'tokenizer_config.json'] as const;
/** Tokenizer and generation files copied from the source when present. */
export const COPIED_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'chat_template.jinja'] as const;

/** How a form rounds: with ONNX Round/Sign, or with Floor and compares only (devices that lack Round, e.g. WebGPU). */
export const ROUNDINGS = ['native', 'portable'] as const;
export type Rounding = (typeof ROUNDINGS)[number];

const FormSchema = z.object({ file: z.string(), execution: z.enum(EXECUTIONS), spikes: z.boolean(), rounding: z.enum(ROUNDINGS) });
/** One stored ONNX form of the spiking model: how it executes, whether it exposes the spike planes, how it rounds. */
export type BundleForm = z.infer<typeof FormSchema>;

/**
 * The forms a bundle of `code` stores; model.onnx comes first. The weighted code runs its closed form
 * and keeps the step reference and the spike planes beside it (onnxruntime computes every output of
 * a graph, so the planes are a separate graph); the rate code runs step by step, spikes exposed.
 */
export function formsFor(code: 'weighted' | 'rate'): readonly BundleForm[] {
  if (code === 'rate') return [{ file: FILES.snnModel, execution: 'steps', spikes: true, rounding: 'native' }];
  return [
    { file: FILES.snnModel, execution: 'closed', spikes: false, rounding: 'native' },
    { file: 'model-spikes.onnx', execution: 'closed', spikes: true, rounding: 'native' },
    { file: 'model-steps.onnx', execution: 'steps', spikes: true, rounding: 'native' },
    { file: 'model-portable.onnx', execution: 'closed', spikes: false, rounding: 'portable' },
    { file: 'model-portable-spikes.onnx', execution: 'closed', spikes: true, rounding: 'portable' },
    { file: 'model-steps-portable.onnx', execution: 'steps', spikes: true, rounding: 'portable' },
  ];
}

const PassRecord = z.object({ name: z.string(), why: z.string(), matched: z.array(z.string()) });
const SiteRecord = z.object({ site: z.string(), kind: z.string(), levels: z.number().int().positive(), channels: z.number().int().positive(), min: z.number(), mean: z.number(), max: z.number(), output: z.string() });

export const MetaSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  formatVersion: z.number().int().min(OLDEST_READ_FORMAT_VERSION).max(BUNDLE_FORMAT_VERSION),
  converterVersion: z.string(),
  created: z.string(),
  source: z.object({
    id: z.string(), revision: z.string().nullable(), arch: z.string(), sha256: z.record(z.string(), z.string()),
    /** What the importer changed on the way (an fp16 export's casts, a merged decoder's branch); absent when nothing. */
    notices: z.array(z.string()).optional(),
  }),
  recipe: z.string(),
  passes: z.array(PassRecord),
  calibration: z.object({
    text: z.string().nullable(),
    textSha256: z.string().nullable(),
    samples: z.number().int().nonnegative(),
    length: z.number().int().nonnegative(),
    statistic: z.string(),
    tokens: z.number().int().nonnegative(),
    /** Where the text came from ('shipped-corpus' | 'text'); absent in bundles from before it was recorded. */
    source: z.string().optional(),
    seed: z.number().int().optional(),
    /** The model's context, the positions calibration windows covered (0 … covered−1) and the rest ('a–b') or null. */
    context: z.number().int().nonnegative().optional(),
    positionsCovered: z.number().int().nonnegative().optional(),
    uncoveredPositions: z.string().nullable().optional(),
    /** Share of calibration values beyond θ under the statistic (0 for max): eval warns far above it. */
    clippedShare: z.number().optional(),
  }),
  neurons: z.array(SiteRecord),
  /** The ONNX forms of the spiking model, model.onnx first (T is graph.json's `spiking.timesteps`). */
  forms: z.array(FormSchema).min(1),
  /** sha256 of every file in the bundle, by path relative to the bundle. */
  files: z.record(z.string(), z.string()),
});
export type BundleMeta = z.infer<typeof MetaSchema>;
export type NeuronSiteRecord = z.infer<typeof SiteRecord>;

/** The spiking section of config.json (docs/design.md §4). */
export interface SnnConfigSection {
  readonly timesteps: number;
  readonly recipe: string;
  readonly neuron: string;
  readonly reset: 'subtract';
  readonly v_init: string;
  readonly code: 'weighted' | 'rate';
  readonly step_weights?: string;
  /** The form model.onnx runs: 'closed' (T-parallel, weighted code) or 'steps'. */
  readonly execution: string;
  readonly td_convention: 'mean';
  readonly layout: string;
  readonly readout: string;
}

const Dim = z.union([z.number(), z.string()]);
const Value = z.object({ name: z.string(), dtype: z.enum(['float32', 'int64']), shape: z.array(Dim) });
type AttrJson = number | string | boolean | null | readonly number[] | { readonly [k: string]: AttrJson };
const Attr: z.ZodType<AttrJson> = z.lazy(() => z.union([z.number(), z.string(), z.boolean(), z.null(), z.array(z.number()), z.record(z.string(), Attr)]));

const NodeJson = z.object({ id: z.string(), op: z.string(), inputs: z.array(z.string()), outputs: z.array(z.string()), attrs: z.record(z.string(), Attr), weights: z.record(z.string(), z.string()) });

/** graph.json: the spiking IR, so a bundle can be re-emitted (e.g. for another T) without re-importing. */
export const GraphSchema = z.object({
  spec: z.object({
    arch: z.enum(['gpt2', 'llama', 'opt', 'qwen2']), vocabSize: z.number(), hiddenSize: z.number(), numLayers: z.number(), numHeads: z.number(),
    numKvHeads: z.number(), headDim: z.number(), maxPositions: z.number(), bosTokenId: z.number().nullable(),
    eosTokenId: z.union([z.number(), z.array(z.number())]).nullable(),
  }),
  spiking: z.object({ timesteps: z.number().int().positive(), recipe: z.string(), code: z.enum(['weighted', 'rate']).default('rate'), headroom: z.number().int().min(0).max(8).optional(), tdConvention: z.literal('mean') }),
  inputs: z.array(Value),
  outputs: z.array(Value),
  nodes: z.array(NodeJson),
  /** The source model's nodes before the recipe's passes: the ANN reference (ann.onnx) of every comparison. */
  sourceNodes: z.array(NodeJson),
  weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()) })),
});
export type GraphJson = z.infer<typeof GraphSchema>;
