// The typed IR's data: values, nodes, weights and graphs. Graphs are immutable; passes build new ones.

/** Element types that flow between IR ops. */
export type DType = 'float32' | 'int64';

/** A dimension: a size, or a symbol ('batch', 'seq', 'past', 'total') resolved at run time. */
export type Dim = number | string;

export interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

/** Attribute values an op may carry (validated by the op's schema). */
export type AttrValue = number | string | boolean | readonly number[] | null | { readonly [k: string]: AttrValue };
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface Node {
  /** Unique within the graph, e.g. `h.0.attn.c_attn`. */
  readonly id: string;
  /** An op name registered in `src/ops/registry.ts`. */
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Attrs;
  /** Weight names this node reads (keys of Graph.weights), by role: `{ weight: 'h.0.attn.c_attn.weight' }`. */
  readonly weights: Readonly<Record<string, string>>;
}

/** Where a weight's bytes live. File sources are read lazily and never held twice. */
export type WeightSource =
  | { readonly kind: 'file'; readonly path: string; readonly offset: number; readonly length: number; readonly dtype: 'F32' | 'F16' | 'BF16' }
  | { readonly kind: 'data'; readonly data: Float32Array };

export interface Weight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly source: WeightSource;
}

/** The architecture facts every stage needs (from config.json, normalised). */
export interface ModelSpec {
  readonly arch: 'gpt2' | 'llama' | 'opt' | 'qwen2';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly maxPositions: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | readonly number[] | null;
}

/** The spiking configuration of a graph once it has a time axis (docs/design.md §2). */
export interface SpikingSpec {
  readonly timesteps: number;
  readonly recipe: string;
  /**
   * 'weighted': signed-digit weighted spikes (step t weighs 2^(T−1−t) units; nonlinear ops act once on
   * integrated values); 'rate': every spike weighs one unit (docs/design.md §2).
   */
  readonly code: 'weighted' | 'rate';
  /** Weighted code: how many of the T digits lie above the calibrated range (θ maps to M_(T−h)); absent = 0. */
  readonly headroom?: number;
  /** 'mean': y_t = t·f(m_t) − (t−1)·f(m_{t−1}); the model output is the mean over T. */
  readonly tdConvention: 'mean';
}

export interface Graph {
  readonly spec: ModelSpec;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** Topologically ordered. */
  readonly nodes: readonly Node[];
  readonly weights: ReadonlyMap<string, Weight>;
  /** Present once the graph is spiking (after the recipe's passes). */
  readonly spiking?: SpikingSpec;
}
