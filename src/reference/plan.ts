// Splits a spiking graph (weighted or rate code) into what the event reference simulates itself (neurons,
// integer synapses) and the float segments between them (norms, attention, activations: run as their ONNX ops).
import { SnnError } from '../errors/index.js';
import type { Graph, Node, ValueInfo } from '../ir/types.js';
import { linear } from '../ops/linear.js';
import { isOp } from '../ops/op.js';
import { neuronAttrs, temporalMean } from '../ops/spiking.js';
import type { ShippedSynapse } from './synapse.js';

export type Step =
  /** Float ops run by onnxruntime: `inputs` come from earlier steps, `outputs` are read later. */
  | { readonly kind: 'segment'; readonly graph: Graph; readonly inputs: readonly string[]; readonly graphInputs: readonly string[]; readonly outputs: readonly string[] }
  /**
   * A neuron site. `levels`: most spikes per step (rate code). `runningSums`: the nodes (rate attention,
   * readout) that take the train into a running sum inside a float segment, one accumulate per spike.
   */
  | { readonly kind: 'neuron'; readonly node: Node; readonly site: string; readonly signed: boolean; readonly levels: number; readonly runningSums: readonly string[] }
  /** A Linear fed by a neuron's events (through the readout, if any). */
  | { readonly kind: 'synapse'; readonly node: Node; readonly source: string; readonly synapse: ShippedSynapse }
  /** The weighted code's readout of a neuron: the same train under another name. */
  | { readonly kind: 'alias'; readonly from: string; readonly to: string };

/**
 * Plans the simulation in graph order. A Linear is simulated as an event synapse when its input is a
 * neuron's train and the bundle ships integer weights for it; every other node joins the current float
 * segment, cut wherever the reference takes over.
 */
export function planSimulation(graph: Graph, synapses: ReadonlyMap<string, ShippedSynapse>): Step[] {
  const rate = graph.spiking?.code !== 'weighted';
  const trainOf = new Map<string, string>();
  const steps: Step[] = [];
  let segment: Node[] = [];
  const close = () => { if (segment.length) steps.push(segmentStep(graph, segment)); segment = []; };
  for (const node of graph.nodes) {
    const neuron = neuronAttrs(node);
    if (neuron) {
      close();
      trainOf.set(node.outputs[0]!, node.outputs[0]!);
      const out = node.outputs[0]!;
      // Rate code: attention and the readout integrate the train as running sums, run as their ONNX ops.
      const runningSums = rate ? graph.nodes.filter((n) => n.inputs.includes(out) && !isOp(n, linear)).map((n) => n.id) : [];
      steps.push({ kind: 'neuron', node, site: neuron.site, signed: neuron.kind === 'SignedIF', levels: neuron.levels, runningSums });
    } else if (!rate && isOp(node, temporalMean) && trainOf.has(node.inputs[0]!)) {
      // Weighted code: the readout is the train itself (the count), an alias.
      close();
      trainOf.set(node.outputs[0]!, trainOf.get(node.inputs[0]!)!);
      steps.push({ kind: 'alias', from: node.inputs[0]!, to: node.outputs[0]! });
    } else if (isOp(node, linear) && trainOf.has(node.inputs[0]!) && synapses.has(node.id)) {
      close();
      steps.push({ kind: 'synapse', node, source: node.inputs[0]!, synapse: synapses.get(node.id)! });
    } else {
      segment.push(node);
    }
  }
  close();
  return finishSegments(graph, steps);
}

/** A segment's nodes as a graph of their own; inputs and outputs are filled in by finishSegments. */
function segmentStep(graph: Graph, nodes: readonly Node[]): Step {
  return { kind: 'segment', graph: { ...graph, nodes, inputs: [], outputs: [] }, inputs: [], graphInputs: [], outputs: [] };
}

/** Every value a step reads. */
function reads(step: Step): string[] {
  switch (step.kind) {
    case 'segment': return step.graph.nodes.flatMap((n) => n.inputs);
    case 'neuron': return [step.node.inputs[0]!];
    case 'synapse': return [step.source];
    case 'alias': return [step.from];
  }
}

function finishSegments(graph: Graph, steps: readonly Step[]): Step[] {
  const graphInputs = new Map(graph.inputs.map((v) => [v.name, v]));
  const graphOutputs = new Map(graph.outputs.map((v) => [v.name, v]));
  return steps.map((step, i) => {
    if (step.kind !== 'segment') return step;
    const produced = new Set(step.graph.nodes.flatMap((n) => n.outputs));
    const used = [...new Set(step.graph.nodes.flatMap((n) => n.inputs))].filter((v) => v !== '' && !produced.has(v));
    const laterReads = new Set(steps.slice(i + 1).flatMap(reads));
    const outputs = [...produced].filter((v) => laterReads.has(v) || graphOutputs.has(v));
    const boundary = (name: string): ValueInfo => graphOutputs.get(name) ?? { name, dtype: 'float32', shape: ['batch', 'seq', `${name}.width`] };
    const inputs = used.filter((v) => !graphInputs.has(v));
    const sub: Graph = {
      ...step.graph,
      inputs: [...used.filter((v) => graphInputs.has(v)).map((v) => graphInputs.get(v)!), ...inputs.map(boundary)],
      outputs: outputs.map(boundary),
    };
    if (outputs.length === 0) throw new SnnError('GRAPH_INVALID', { message: `a float segment starting at ${step.graph.nodes[0]!.id} has no output`, at: 'event reference' });
    return { kind: 'segment', graph: sub, inputs, graphInputs: used.filter((v) => graphInputs.has(v)), outputs };
  });
}
