// Incremental construction of an IR graph: importers and passes add nodes and weights, then build().
import type { Attrs, Graph, ModelSpec, Node, SpikingSpec, ValueInfo, Weight } from './types.js';

export interface NodeSpec {
  readonly attrs?: Attrs;
  readonly weights?: Readonly<Record<string, string>>;
  /** Output value names; default `[id]` (or `id.k` for `count` outputs). */
  readonly outputs?: readonly string[];
  readonly count?: number;
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly weights = new Map<string, Weight>();

  constructor(private readonly spec: ModelSpec) {}

  addWeight(weight: Weight): string {
    this.weights.set(weight.name, weight);
    return weight.name;
  }

  /** Adds a node and returns its output value names. */
  add(op: string, id: string, inputs: readonly string[], spec: NodeSpec = {}): string[] {
    const count = spec.count ?? 1;
    const outputs = spec.outputs ? [...spec.outputs] : count === 1 ? [id] : Array.from({ length: count }, (_, k) => `${id}.${k}`);
    this.nodes.push({ id, op, inputs: [...inputs], outputs, attrs: spec.attrs ?? {}, weights: spec.weights ?? {} });
    return outputs;
  }

  /** Adds a single-output node and returns its output name. */
  op(op: string, id: string, inputs: readonly string[], spec: NodeSpec = {}): string {
    return this.add(op, id, inputs, spec)[0]!;
  }

  build(inputs: readonly ValueInfo[], outputs: readonly ValueInfo[], spiking?: SpikingSpec): Graph {
    return { spec: this.spec, inputs, outputs, nodes: [...this.nodes], weights: new Map(this.weights), ...(spiking ? { spiking } : {}) };
  }
}

/** A copy of `graph` with some fields replaced (passes never mutate their input). */
export function withGraph(graph: Graph, patch: Partial<Pick<Graph, 'nodes' | 'weights' | 'spiking' | 'outputs'>>): Graph {
  return { ...graph, ...patch };
}
