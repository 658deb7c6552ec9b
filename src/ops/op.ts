// The contract every op definition fulfils: schema, ANN lowering to ONNX, and its spiking story.
import type { OnnxBuilder } from '../emit/onnx-builder.js';
import type { Graph, ModelSpec, Node } from '../ir/types.js';

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
 * - `td`: a temporal-difference operator around the ANN lowering (SPEC §2, mean convention);
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

/** Small attribute readers shared by the op files (they throw on a missing or mistyped attribute). */
export function numAttr(node: Node, key: string): number {
  const v = node.attrs[key];
  if (typeof v !== 'number') throw new Error(`node ${node.id} (${node.op}): attribute ${key} must be a number`);
  return v;
}

export function strAttr(node: Node, key: string): string {
  const v = node.attrs[key];
  if (typeof v !== 'string') throw new Error(`node ${node.id} (${node.op}): attribute ${key} must be a string`);
  return v;
}

export function optNumAttr(node: Node, key: string): number | null {
  const v = node.attrs[key];
  return typeof v === 'number' ? v : null;
}

/** Checks that the listed attributes are numbers (and finite). */
export function requireNumbers(node: Node, keys: readonly string[]): string[] {
  return keys.filter((k) => typeof node.attrs[k] !== 'number' || !Number.isFinite(node.attrs[k] as number)).map((k) => `attribute ${k} must be a finite number`);
}
