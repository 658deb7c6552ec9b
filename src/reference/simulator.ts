// The event-driven reference of a spiking bundle (weighted or rate code): neurons and integer synapses simulated in
// TypeScript event by event, the float operators between them run as their ONNX ops, one session each.
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { SnnError } from '../errors/index.js';
import { FILES } from '../bundle/format.js';
import type { BundleContents } from '../bundle/read.js';
import { ATTENTION_MASK, INPUT_IDS, LOGITS, POSITION_IDS, pastKey, pastValue } from '../ir/io.js';
import type { Graph } from '../ir/types.js';
import { createSession, kvOutputNames } from '../runtime/session.js';
import { withEmittedModel } from '../open/graph-session.js';
import { weightData } from '../weights/weight-data.js';
import { largestCount, neuronParams, runPhase, runRateTrain } from './neuron.js';
import { planSimulation, type Step } from './plan.js';
import { accumulateEvents, accumulateRateEvents, readShippedSynapses, type SpikePlanes } from './synapse.js';

export interface Tensor { readonly data: Float32Array; readonly dims: readonly number[] }

/** What one simulated forward call produced besides the logits. */
export interface SimulationResult {
  readonly values: ReadonlyMap<string, Tensor>;
  /** Spike planes [T, B, S, D] and clipped trains [B, S, D] per site, as float tensors. */
  readonly spikes: ReadonlyMap<string, Tensor>;
  readonly saturation: ReadonlyMap<string, Tensor>;
  /**
   * Synaptic operations, per node: per Linear the accumulates performed (one per event and target); per
   * rate attention or readout node the spikes delivered to its running sums (one accumulate each, done
   * by the float segment that runs it).
   */
  readonly sops: ReadonlyMap<string, number>;
}

/** Graph inputs of one forward call (the runtime's StepInput, host tensors only). */
export interface SimulationInput {
  readonly batch: number;
  readonly seq: number;
  readonly ids: BigInt64Array;
  readonly mask: BigInt64Array;
  readonly positions: BigInt64Array;
  readonly past: number;
  readonly cache: readonly Float32Array[];
}

type Segment = Extract<Step, { kind: 'segment' }> & { readonly session: ort.InferenceSession };
type Planned = Exclude<Step, { kind: 'segment' }> | Segment;

export class EventSimulator {
  private readonly rate: boolean;
  private constructor(readonly graph: Graph, private readonly steps: readonly Planned[]) {
    this.rate = graph.spiking?.code !== 'weighted';
  }

  /** One of the segment sessions (the runtime's session class wants one; EventSession never runs it). */
  anySession(): ort.InferenceSession {
    const s = this.steps.find((p): p is Segment => p.kind === 'segment');
    if (!s) throw new SnnError('GRAPH_INVALID', { message: 'the graph has no float segment', at: 'event reference' });
    return s.session;
  }

  /** Plans the bundle's graph and opens one CPU session per float segment. */
  static async open(contents: BundleContents): Promise<EventSimulator> {
    const graph = contents.graph;
    const rate = graph.spiking?.code !== 'weighted';
    const parts = (contents.config['snn'] as { synapses?: { count_parts?: Record<string, number> } } | undefined)?.synapses?.count_parts ?? {};
    if (Object.keys(parts).length > 0) {
      throw new SnnError('OPTION_INVALID', { message: `--simulate events simulates synapses fed whole counts; this bundle splits the counts of ${Object.keys(parts).join(', ')} into parts (large T) (valid here: closed, steps)`, at: '--simulate', hint: 'use --simulate steps, or convert with a smaller --timesteps' });
    }
    const steps = planSimulation(graph, readShippedSynapses(join(contents.path, FILES.snnModel)));
    const planned: Planned[] = [];
    // Rate code: neuron trains, synapse outputs and what follows them carry the time axis [T, B, S, D].
    const timed = new Set<string>();
    const modelOutputs = new Set(graph.outputs.map((v) => v.name));
    for (const step of steps) {
      if (step.kind !== 'segment') {
        if (rate && step.kind === 'neuron') {
          // Spike planes are Int8 (convert caps --levels at 64); a graph beyond that is refused, not wrapped.
          if (step.levels > 127) throw new SnnError('OPTION_INVALID', { message: `--simulate events holds spikes of at most ±127 per step; site ${step.site} has levels ${step.levels} (valid here: steps)`, at: '--simulate', hint: 'use --simulate steps for this bundle, or convert with --levels ≤ 127' });
          timed.add(step.node.outputs[0]!);
        }
        if (rate && step.kind === 'synapse') timed.add(step.node.outputs[0]!);
        planned.push(step);
        continue;
      }
      const opts = rate
        ? { execution: 'steps' as const, timedInputs: step.inputs.filter((v) => timed.has(v)), keepTimed: step.outputs.filter((v) => !modelOutputs.has(v)) }
        : { execution: 'closed' as const };
      const session = await withEmittedModel(step.graph, 'snn', opts, (path, emitted) => {
        for (const v of emitted.timedOutputs) timed.add(v);
        return createSession(path, 'cpu');
      });
      planned.push({ ...step, session });
    }
    return new EventSimulator(graph, planned);
  }

  async run(input: SimulationInput): Promise<SimulationResult> {
    const T = this.graph.spiking!.timesteps;
    const headroom = this.graph.spiking!.headroom ?? 0;
    const feeds = graphFeeds(this.graph, input);
    const values = new Map<string, Tensor>();
    const trains = new Map<string, SpikePlanes>();
    const spikes = new Map<string, Tensor>();
    const saturation = new Map<string, Tensor>();
    const sops = new Map<string, number>();
    for (const step of this.steps) {
      switch (step.kind) {
        case 'segment': {
          const f: Record<string, ort.Tensor> = {};
          for (const v of step.graphInputs) f[v] = feeds[v]!;
          for (const v of step.inputs) { const t = need(values, v); f[v] = new ort.Tensor('float32', t.data, [...t.dims]); }
          const out = await step.session.run(f, [...step.outputs]);
          for (const v of step.outputs) values.set(v, { data: out[v]!.data as Float32Array, dims: out[v]!.dims });
          break;
        }
        case 'neuron': {
          const x = need(values, step.node.inputs[0]!);
          const theta = weightData(this.graph.weights.get(step.node.weights['threshold']!)!);
          const fired = this.rate ? fireRateSite(x, theta, T, step.levels, step.signed) : fireSite(x, theta, T, headroom, step.signed);
          const untimed = this.rate && x.dims.length === 4 ? x.dims.slice(1) : x.dims;
          trains.set(step.node.outputs[0]!, fired.planes);
          values.set(step.node.outputs[0]!, fired.value);
          spikes.set(step.site, { data: Float32Array.from(fired.planes.data), dims: [T, ...untimed] });
          saturation.set(step.site, { data: fired.clipped, dims: untimed });
          if (step.runningSums.length > 0) {
            let events = 0;
            for (const s of fired.planes.data) events += Math.abs(s);
            for (const node of step.runningSums) sops.set(node, (sops.get(node) ?? 0) + events);
          }
          break;
        }
        case 'alias':
          trains.set(step.to, trains.get(step.from)!);
          values.set(step.to, need(values, step.from));
          break;
        case 'synapse': {
          const planes = trains.get(step.source)!;
          const bias = step.node.weights['bias'] ? weightData(this.graph.weights.get(step.node.weights['bias'])!) : null;
          const { output, sops: n } = (this.rate ? accumulateRateEvents : accumulateEvents)(planes, step.synapse, bias);
          const lead = need(values, step.source).dims.slice(0, -1);
          values.set(step.node.outputs[0]!, { data: output, dims: [...lead, step.synapse.outFeatures] });
          sops.set(step.node.id, (sops.get(step.node.id) ?? 0) + n);
          break;
        }
      }
    }
    return { values, spikes, saturation, sops };
  }

  async release(): Promise<void> {
    for (const s of this.steps) if (s.kind === 'segment') await s.session.release();
  }
}

function need(values: ReadonlyMap<string, Tensor>, name: string): Tensor {
  const t = values.get(name);
  if (!t) throw new SnnError('GRAPH_INVALID', { message: `value ${name} is read before the simulation produced it`, at: 'event reference' });
  return t;
}

/**
 * Every neuron of a site for one phase: the input current x in units u_c = θ_c/M_(T−h) (float32, as
 * the bundle records θ; h headroom digits lie above the calibrated range, docs/design.md §2), then
 * threshold, fire and subtract (neuron.ts; the membrane still saturates at ±M_T). The site's value for
 * float consumers is the readout u_c·Σ_t 2^k·s_t.
 */
function fireSite(x: Tensor, theta: Float32Array, T: number, headroom: number, signed: boolean): { planes: SpikePlanes; value: Tensor; clipped: Float32Array } {
  const D = theta.length;
  const rows = x.data.length / D;
  const M = largestCount(T - headroom);
  const p = neuronParams(T, signed);
  const unit = Float32Array.from(theta, (t) => Math.fround(t / M));
  const data = new Int8Array(T * rows * D);
  const value = new Float32Array(rows * D);
  const clipped = new Float32Array(rows * D);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < D; c++) {
      const i = r * D + c;
      const phase = runPhase(Math.fround(x.data[i]! / unit[c]!), p);
      let count = 0;
      phase.spikes.forEach((s, t) => { data[(t * rows + r) * D + c] = s; count += s * 2 ** (T - 1 - t); });
      value[i] = Math.fround(count * unit[c]!);
      clipped[i] = phase.clipped ? 1 : 0;
    }
  }
  return { planes: { steps: T, rows, width: D, data }, value: { data: value, dims: x.dims }, clipped };
}

/**
 * Rate code: every neuron of a site over the T steps. The step's current is x_t/u_c in units
 * u_c = θ_c/levels (float32, as the bundle records θ); an untimed input is the same current at every
 * step. The membrane integrates, fires by threshold and subtracts (neuron.ts runRateTrain). The site's
 * value for float consumers is u_c·s_t at every step; saturation counts saturated steps per train.
 */
function fireRateSite(x: Tensor, theta: Float32Array, T: number, levels: number, signed: boolean): { planes: SpikePlanes; value: Tensor; clipped: Float32Array } {
  const D = theta.length;
  const timedInput = x.dims.length === 4;
  const rows = x.data.length / D / (timedInput ? T : 1);
  const unit = Float32Array.from(theta, (t) => Math.fround(t / levels));
  const data = new Int8Array(T * rows * D);
  const value = new Float32Array(T * rows * D);
  const clipped = new Float32Array(rows * D);
  const currents = new Array<number>(T);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < D; c++) {
      const i = r * D + c;
      for (let t = 0; t < T; t++) currents[t] = Math.fround(x.data[timedInput ? t * rows * D + i : i]! / unit[c]!);
      const train = runRateTrain(currents, { levels, signed });
      train.spikes.forEach((s, t) => { data[t * rows * D + i] = s; value[t * rows * D + i] = Math.fround(s * unit[c]!); });
      clipped[i] = train.clipped;
    }
  }
  const untimed = timedInput ? x.dims.slice(1) : x.dims;
  return { planes: { steps: T, rows, width: D, data }, value: { data: value, dims: [T, ...untimed] }, clipped };
}

function graphFeeds(graph: Graph, input: SimulationInput): Record<string, ort.Tensor> {
  const spec = graph.spec;
  const feeds: Record<string, ort.Tensor> = {
    [INPUT_IDS]: new ort.Tensor('int64', input.ids, [input.batch, input.seq]),
    [ATTENTION_MASK]: new ort.Tensor('int64', input.mask, [input.batch, input.past + input.seq]),
    [POSITION_IDS]: new ort.Tensor('int64', input.positions, [input.batch, input.seq]),
  };
  const kvDims = [input.batch, spec.numKvHeads, input.past, spec.headDim];
  for (let l = 0; l < spec.numLayers; l++) {
    feeds[pastKey(l)] = new ort.Tensor('float32', input.past === 0 ? new Float32Array(0) : input.cache[2 * l]!, kvDims);
    feeds[pastValue(l)] = new ort.Tensor('float32', input.past === 0 ? new Float32Array(0) : input.cache[2 * l + 1]!, kvDims);
  }
  return feeds;
}

/** The logits and present K/V of a simulated call (per layer K then V). */
export function modelOutputsOf(graph: Graph, result: SimulationResult): { logits: Float32Array; present: Float32Array[] } {
  return { logits: need(result.values, LOGITS).data, present: kvOutputNames(graph.spec).map((n) => need(result.values, n).data) };
}
