// The contract every op definition fulfils: schema, ANN lowering to ONNX, and its spiking story.
import type { OnnxBuilder } from '../onnx/onnx-builder.js';
import type { Attrs, Graph, ModelSpec, Node } from '../ir/types.js';

/** What a lowering sees: the builder, the node, and ONNX names for its inputs and weights. */
export interface LowerCtx {
  readonly b: OnnxBuilder;
  readonly node: Node;
  readonly spec: ModelSpec;
  readonly graph: Graph;
  /** ONNX name of the node's i-th input (as it is: with or without time axis). */
  input(i: number): string;
  /** True when the node's i-th input carries the leading time axis. */
  isTimed(i: number): boolean;
  /** The i-th input with a time axis: an untimed value is presented unchanged at every step. */
  timedInput(i: number): string;
  /** ONNX initializer name of the node's weight in `role`. */
  weight(role: string): string;
  /** Leading dims before [S, D]: 1 (batch) for ANN values, 2 (time, batch) for timed values. */
  lead(timed: boolean): number;
  /** Timesteps T of a spiking lowering (1 for ANN). */
  readonly timesteps: number;
  /** A subexpression shared by every node that asks with the same key (masks, RoPE tables). */
  shared(key: string, build: () => string): string;
  /** Marks the lowering's spike tensor for a neuron site, so it can be exposed as an output. */
  recordSpikes(site: string, onnxName: string): void;
  /** True when spike (and saturation) tensors are exposed: lowerings build them only then. */
  readonly exposeSpikes: boolean;
  /** True when only the saturation tensors are exposed (clipped share in eval), without the spike planes. */
  readonly exposeSaturation?: boolean;
  /**
   * Build integer rounding from Floor and comparisons instead of Round/Sign/Mod, which some execution
   * providers lack (WebGPU); same integers, more nodes.
   */
  readonly portable: boolean;
  /**
   * The integer count behind input i when a weighted-code neuron produced it (the ONNX value of q and
   * the neuron's threshold initializer), else null. Integer synapses read it.
   */
  countOf(i: number): { readonly count: string; readonly threshold: string; readonly thresholdWeight: string } | null;
  /** Records the count behind a neuron's output (ONNX name of the output → its count). */
  recordCount(output: string, count: string): void;
  /** Records how a Linear's synapse was lowered (integer with its bits and bound, or float). */
  recordSynapse(record: SynapseRecord): void;
  /**
   * The calibration sampler's form (emit/lower.ts EmitOptions.sampler): one token per row per call, the
   * past K/V in the caller's buffers (keys transposed), only the new token's K/V returned.
   */
  readonly sampler?: boolean;
  /** Every call feeds at least two tokens per row (emit/lower.ts EmitOptions.multiRow). */
  readonly multiRow?: boolean;
  /** Marks a site's saturation tensor ([B, S, D]: clipped steps per train) for `saturation/<site>`. */
  recordSaturation(site: string, onnxName: string): void;
}

/** How one Linear's synapse runs in a weighted-code graph. */
export interface SynapseRecord {
  readonly node: string;
  readonly kind: 'integer' | 'float';
  readonly bits: number | null;
  /** Certified largest |accumulator| (< 2^24 for integer synapses). */
  readonly bound: number | null;
  /** Parts the count is split into (1: fed whole). */
  readonly groups: number | null;
}

/** Names of the ONNX values a lowering produced, one per node output, with their time axis. */
export interface Lowered {
  readonly outputs: readonly string[];
  readonly timed: readonly boolean[];
}

/**
 * How an op runs in a spiking graph:
 * - `linear`: the ANN lowering applies unchanged over the time axis (exact: it commutes with the mean);
 * - `td`: a temporal-difference operator around the ANN lowering (docs/design.md §2, mean convention);
 * - `custom`: a lowering of its own (neurons, spike attention, embeddings, readout);
 * - `unsupported`: no spiking form; `why` names the pass that makes one.
 */
export type SnnForm =
  | { readonly kind: 'linear' }
  | { readonly kind: 'td' }
  | { readonly kind: 'custom'; readonly lower: (ctx: LowerCtx) => Lowered }
  | { readonly kind: 'unsupported'; readonly why: string };

export interface OpDef {
  readonly name: string;
  /** One line: what the op computes. */
  readonly doc: string;
  readonly numInputs: number | readonly [number, number];
  readonly numOutputs: number;
  /** Weight roles the op reads. */
  readonly weights: readonly string[];
  /** Attribute check; returns the problems found (empty when valid). */
  readonly check: (node: Node) => string[];
  /** ANN lowering over untimed (or, for `linear`/`td` reuse, timed) values. Returns one ONNX name per output. */
  readonly lowerAnn: (ctx: LowerCtx) => readonly string[];
  readonly snn: SnnForm;
  /**
   * Closed (T-parallel) form for the weighted code's runtime graph, which carries no time axis: every
   * op acts once on integrated values. Default: the ANN lowering (exact for all but the neurons).
   */
  readonly closed?: (ctx: LowerCtx) => Lowered;
}

/** True when `node` is an instance of `def`: how code outside ops/ tests an op (no op-name strings there). */
export function isOp(node: { readonly op: string }, ...defs: readonly OpDef[]): boolean {
  return defs.some((d) => d.name === node.op);
}

/** What carries attributes: an IR node, or an op lifted from ONNX before it becomes one. */
export interface AttrHolder {
  readonly op: string;
  readonly attrs: Attrs;
  readonly id?: string;
}

function where(node: AttrHolder): string {
  return node.id === undefined ? `op ${node.op}` : `node ${node.id} (${node.op})`;
}

/**
 * Small attribute readers shared by the op files (they throw on a missing or mistyped attribute). Each
 * op file declares its attributes' type and one reader built from these, next to its lowering.
 */
export function numAttr(node: AttrHolder, key: string): number {
  const v = node.attrs[key];
  if (typeof v !== 'number') throw new Error(`${where(node)}: attribute ${key} must be a number`);
  return v;
}

export function strAttr(node: AttrHolder, key: string): string {
  const v = node.attrs[key];
  if (typeof v !== 'string') throw new Error(`${where(node)}: attribute ${key} must be a string`);
  return v;
}

export function optNumAttr(node: AttrHolder, key: string): number | null {
  const v = node.attrs[key];
  return typeof v === 'number' ? v : null;
}

export function boolAttr(node: AttrHolder, key: string): boolean {
  const v = node.attrs[key];
  if (typeof v !== 'boolean') throw new Error(`${where(node)}: attribute ${key} must be a boolean`);
  return v;
}

export function numsAttr(node: AttrHolder, key: string): readonly number[] {
  const v = node.attrs[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new Error(`${where(node)}: attribute ${key} must be a list of numbers`);
  return v;
}

/** A string attribute that must be one of `valid`. */
export function choiceAttr<T extends string>(node: AttrHolder, key: string, valid: readonly T[]): T {
  const v = strAttr(node, key);
  if (!(valid as readonly string[]).includes(v)) throw new Error(`${where(node)}: attribute ${key} must be one of ${valid.join(', ')}`);
  return v as T;
}

/** Checks that the listed attributes are numbers (and finite). */
export function requireNumbers(node: Node, keys: readonly string[]): string[] {
  return keys.filter((k) => { const v = node.attrs[k]; return typeof v !== 'number' || !Number.isFinite(v); }).map((k) => `attribute ${k} must be a finite number`);
}
