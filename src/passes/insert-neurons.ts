// insert-neurons: puts IF / SignedIF neurons on chosen values, so the weights downstream are driven by spikes.
import type { Graph, Node, Weight } from '../ir/types.js';
import { producers } from '../ir/values.js';
import { valueWidth } from '../ops/value-width.js';
import type { NeuronKind } from '../ops/spiking.js';
import type { PassResult } from './rewrite.js';
import { neuronNode } from '../ops/spiking.js';
import { relu } from '../ops/activation.js';
import { attention, spikeAttention } from '../ops/attention.js';
import { linear } from '../ops/linear.js';
import { isOp } from '../ops/op.js';

/**
 * Which values get a neuron:
 * - `linear-inputs`: the input of every Linear (every weight multiply is spike-driven);
 * - `attention-inputs`: Q, K and V entering (Spike)Attention;
 * - `relu-outputs`: the output of every ReLU (stac's IF-after-ReLU).
 */
export type NeuronSites = 'linear-inputs' | 'attention-inputs' | 'relu-outputs';

export interface InsertNeuronsOptions {
  readonly kind: NeuronKind;
  readonly sites: readonly NeuronSites[];
  /** Spike levels per step at a site (1 = binary/ternary spikes); default 1 everywhere. */
  readonly levels?: (site: string) => number;
}

/** The (consumer, input index) pairs to feed from a neuron, grouped by the value they read. */
function targets(graph: Graph, sites: readonly NeuronSites[]): Map<string, Set<string>> {
  const byValue = new Map<string, Set<string>>();
  const mark = (value: string, node: Node, i: number) => {
    let set = byValue.get(value);
    if (!set) { set = new Set(); byValue.set(value, set); }
    set.add(`${node.id}#${i}`);
  };
  const relus = new Set(graph.nodes.filter((n) => isOp(n, relu)).map((n) => n.outputs[0]!));
  for (const node of graph.nodes) {
    if (sites.includes('linear-inputs') && isOp(node, linear)) mark(node.inputs[0]!, node, 0);
    if (sites.includes('attention-inputs') && isOp(node, attention, spikeAttention)) for (const i of [0, 1, 2]) mark(node.inputs[i]!, node, i);
    if (sites.includes('relu-outputs')) node.inputs.forEach((v, i) => { if (relus.has(v)) mark(v, node, i); });
  }
  return byValue;
}

/** Inserts one neuron per targeted value, right after its producer; θ starts at 1 until calibration. */
export function insertNeurons(graph: Graph, opts: InsertNeuronsOptions): PassResult {
  const wanted = targets(graph, opts.sites);
  const byValue = producers(graph);
  const spiked = new Map<string, string>();
  const weights = new Map<string, Weight>(graph.weights);
  const nodes: Node[] = [];
  const matched: string[] = [];
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((v, i) => (wanted.get(v)?.has(`${node.id}#${i}`) ? spiked.get(v) ?? v : v));
    nodes.push(inputs.some((v, i) => v !== node.inputs[i]) ? { ...node, inputs } : node);
    for (const value of node.outputs) {
      if (!wanted.has(value)) continue;
      const site = value;
      const width = valueWidth(graph, value, byValue);
      const threshold: Weight = { name: `${site}.threshold`, shape: [width], source: { kind: 'data', data: new Float32Array(width).fill(1) } };
      weights.set(threshold.name, threshold);
      const out = `${site}.spikes`;
      nodes.push(neuronNode(`${site}.neuron`, value, out, { kind: opts.kind, levels: opts.levels?.(site) ?? 1, site }, threshold.name));
      spiked.set(value, out);
      matched.push(`${opts.kind}: ${site}`);
    }
  }
  return { graph: { ...graph, nodes, weights }, matched };
}
