// What the report reads off the spiking IR: each neuron site's fan-out, and the weight-multiply work of ANN and SNN.
import type { Graph, Node } from '../ir/types.js';
import { layerOf, timedValues } from './graph-walk.js';
export { layerOf, timedValues };
import { spikeFanOut, spikeValues } from './op-costs.js';
import { neuronsOf, temporalMean } from '../ops/spiking.js';
import { isOp } from '../ops/op.js';

export interface SiteFacts {
  readonly site: string;
  readonly layer: number | null;
  readonly role: string;
  readonly kind: string;
  readonly levels: number;
  readonly channels: number;
  readonly node: Node;
  /** The IR value feeding the neuron (its input current). */
  readonly input: string;
  /** The ONNX output carrying the site's spikes ([T, B, S, D] integers). */
  readonly output: string;
  /** The ONNX output counting its clipped steps per train ([B, S, D]). */
  readonly saturation: string;
  readonly fanOut: number;
  readonly fanOutRule: string;
  readonly consumers: readonly string[];
}

/** Every Neuron of a spiking graph, in graph order, with its fan-out over windows of `window` tokens (op-costs.ts rules). */
export function neuronSites(graph: Graph, window: number): SiteFacts[] {
  const code = graph.spiking?.code ?? 'rate';
  return neuronsOf(graph.nodes).map(({ node, attrs }) => {
    const { site, kind, levels } = attrs;
    // The weighted code's readout is the identity on the count: its consumers (the LM head) read the spikes.
    const carriers = new Set([node.outputs[0]!]);
    for (const [value, s] of spikeValues(graph)) if (s === site) carriers.add(value);
    const consumers = graph.nodes.filter((c) => c.inputs.some((v) => carriers.has(v)) && !(code === 'weighted' && isOp(c, temporalMean)));
    const uses = consumers.flatMap((c) => c.inputs.flatMap((v, i) => (carriers.has(v) ? [spikeFanOut(c, i, code, window)] : [])));
    const threshold = graph.weights.get(node.weights['threshold']!);
    return {
      site, ...layerOf(site), kind, levels,
      channels: threshold?.shape[0] ?? 0, node, input: node.inputs[0]!, output: `spikes/${site}`, saturation: `saturation/${site}`,
      fanOut: uses.reduce((a, u) => a + u.fanOut, 0), fanOutRule: uses.map((u) => u.rule).join('; ') || 'no consumer', consumers: consumers.map((c) => c.id),
    };
  });
}


