// The spiking IR ⇄ graph.json; weights are stored as names and shapes, their bytes live in weights.safetensors.
import type { Graph, Weight } from '../ir/types.js';
import type { GraphJson } from './format.js';

const nodeJson = (n: Graph['nodes'][number]): GraphJson['nodes'][number] => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: n.attrs as GraphJson['nodes'][number]['attrs'], weights: { ...n.weights } });

/** The spiking graph and the source graph it came from (same weights; the source has no thresholds). */
export function graphToJson(graph: Graph, source: Graph): GraphJson {
  if (!graph.spiking) throw new Error('graphToJson: only spiking graphs are stored in bundles');
  return {
    spec: { ...graph.spec, eosTokenId: graph.spec.eosTokenId === null ? null : typeof graph.spec.eosTokenId === 'number' ? graph.spec.eosTokenId : [...graph.spec.eosTokenId] },
    spiking: graph.spiking as GraphJson['spiking'],
    inputs: graph.inputs.map((v) => ({ ...v, shape: [...v.shape] })),
    outputs: graph.outputs.map((v) => ({ ...v, shape: [...v.shape] })),
    nodes: graph.nodes.map(nodeJson),
    sourceNodes: source.nodes.map(nodeJson),
    weights: [...graph.weights.values()].map((w) => ({ name: w.name, shape: [...w.shape] })),
  };
}

/** Rebuilds the spiking and the source graph; `locate` says where each weight's bytes are. */
export function graphFromJson(json: GraphJson, locate: (name: string, shape: readonly number[]) => Weight): { graph: Graph; source: Graph } {
  const weights = new Map(json.weights.map((w) => [w.name, locate(w.name, w.shape)]));
  const graph: Graph = { spec: json.spec, spiking: json.spiking, inputs: json.inputs, outputs: json.outputs, nodes: json.nodes, weights };
  const used = new Set(json.sourceNodes.flatMap((n) => Object.values(n.weights)));
  const source: Graph = { spec: json.spec, inputs: json.inputs, outputs: json.outputs, nodes: json.sourceNodes, weights: new Map([...weights].filter(([name]) => used.has(name))) };
  return { graph, source };
}
