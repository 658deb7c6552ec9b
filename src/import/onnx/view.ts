// The graph as lifting rules see it: producers, consumers, constants, and which values are activations or plumbing.
import type { Const, LiftView, OnnxNodeLike } from '../../ops/lift.js';
import type { Folded } from './fold.js';
import type { OnnxGraph, OnnxNode } from './read.js';

/** Graph inputs that only shape masks and positions; every other input (ids, past K/V) carries activations. */
const PLUMBING_INPUTS = /^(attention_mask|position_ids|token_type_ids)$/;
/** Ops whose output depends on the input's shape only. */
const SHAPE_OPS = ['Shape', 'Size'];

export class GraphView implements LiftView {
  private readonly producers = new Map<string, OnnxNode>();
  private readonly users = new Map<string, OnnxNode[]>();
  private readonly activations = new Set<string>();
  /** Values computed from the model's inputs (ids, past K/V), not only from positions, masks and tables. */
  private readonly dataDependent = new Set<string>();
  private readonly outputSet: ReadonlySet<string>;
  private readonly inputSet: ReadonlySet<string>;

  /** @param rounding relative rounding of the export's float constants (half an ulp of the type they were stored in). */
  constructor(readonly graph: OnnxGraph, readonly folded: Folded, readonly rounding = 2 ** -24) {
    this.outputSet = new Set(graph.outputs);
    this.inputSet = new Set(graph.inputs);
    for (const n of graph.nodes) {
      if (folded.folded.has(n)) continue;
      for (const o of n.outputs) this.producers.set(o, n);
      for (const i of new Set(n.inputs)) if (i !== '') this.users.set(i, [...(this.users.get(i) ?? []), n]);
    }
    for (const i of graph.inputs) if (!PLUMBING_INPUTS.test(i)) { this.activations.add(i); this.dataDependent.add(i); }
    for (const n of graph.nodes) {
      if (folded.folded.has(n) || SHAPE_OPS.includes(n.opType)) continue;
      // A lookup in a weight table (wpe, a RoPE cos/sin cache) is an activation even when positions index it.
      if (this.isTableLookup(n)) this.activations.add(n.outputs[0]!);
      if (n.inputs.some((i) => this.activations.has(i))) for (const o of n.outputs) this.activations.add(o);
      if (n.inputs.some((i) => this.dataDependent.has(i))) for (const o of n.outputs) this.dataDependent.add(o);
    }
  }

  /** Gather rows of a 2-D float weight (an embedding): its output is an activation whatever indexes it. */
  private isTableLookup(n: OnnxNode): boolean {
    const table = n.opType === 'Gather' ? this.folded.consts.get(n.inputs[0] ?? '') : undefined;
    return table !== undefined && table.kind === 'float' && table.dims.length === 2;
  }

  producer(value: string): OnnxNodeLike | undefined { return this.producers.get(value); }
  consumers(value: string): readonly OnnxNodeLike[] { return this.users.get(value) ?? []; }
  constant(value: string): Const | undefined { return this.folded.consts.get(value); }
  isActivation(value: string): boolean { return this.activations.has(value); }
  isOutput(value: string): boolean { return this.outputSet.has(value); }
  isInput(value: string): boolean { return this.inputSet.has(value); }

  plumbing(value: string): readonly OnnxNodeLike[] | null {
    if (this.dataDependent.has(value)) return null;
    const seen = new Set<OnnxNode>();
    const stack = [value];
    while (stack.length > 0) {
      const p = this.producers.get(stack.pop()!);
      if (!p || seen.has(p)) continue;
      seen.add(p);
      if (SHAPE_OPS.includes(p.opType)) continue;
      stack.push(...p.inputs.filter((i) => i !== ''));
    }
    return [...seen];
  }
}
