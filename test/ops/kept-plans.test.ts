// Synapse plans handed from a bundle's write to the next emission of the same graph read back (the report's spike
// pass at conversion): taken once, only for the same thresholds, and giving the initializers a fresh quantization gives.
import onnxProto from 'onnx-proto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { emitOnnx } from '../../src/emit/lower.js';
import type { Graph } from '../../src/ir/types.js';
import { KeptSynapsePlans, keepSynapsePlans, prepareSynapsePlans, withSynapsePlans } from '../../src/ops/linear.js';
import { readBundleGraph } from '../../src/report/source.js';
import { weightData } from '../../src/weights/weight-data.js';
import { GPT2_DIR, tempDir } from '../helpers.js';
import { FAST } from '../runtime/tsp-helpers.js';

const { onnx } = onnxProto;

/** Weights referenced, not read: a dry emission's placement. */
const NOWHERE = { external: { location: 'nowhere', offset: 0, length: 0 } } as const;

/** The synapse plane and scale initializers of an emission, by name, as raw bytes. */
function synapseInitializers(bytes: Uint8Array): Map<string, Buffer> {
  const graph = onnx.ModelProto.decode(bytes).graph!;
  return new Map(graph.initializer!.filter((t) => /\.synapse\.(plane\d|scale)$/.test(t.name!)).map((t) => [t.name!, Buffer.from(t.rawData!)]));
}

const emit = (graph: Graph, spikeCounts = false) => emitOnnx(graph, { mode: 'snn', placeWeight: (w) => ({ inline: weightData(w) }), ...(spikeCounts ? { spikeCounts: {} } : {}) }).bytes;

describe('kept synapse plans', () => {
  let bundle: string;
  let fresh: Map<string, Buffer>;
  beforeAll(async () => {
    bundle = (await convert(GPT2_DIR, { ...FAST, timesteps: 8, out: join(tempDir('snn-kept-'), 'm.snn') })).bundlePath;
    fresh = synapseInitializers(emit(readBundleGraph(bundle), true));
    expect(fresh.size).toBeGreaterThan(0);
  });

  it('a bundle form records one plan per integer synapse; the spike-counts form of the graph read back takes every one, with the same initializers', async () => {
    const kept = new KeptSynapsePlans();
    const counted = await keepSynapsePlans(kept, async () => {
      withSynapsePlans(() => emit(readBundleGraph(bundle)), { record: true });
      const recorded = kept.size;
      const taken = synapseInitializers(emit(readBundleGraph(bundle), true));
      return { recorded, left: kept.size, taken };
    });
    expect(counted.recorded).toBe([...fresh.keys()].filter((n) => n.endsWith('.scale')).length);
    expect(counted.left).toBe(0);
    expect([...counted.taken.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [name, bytes] of fresh) expect(counted.taken.get(name)!.equals(bytes), name).toBe(true);
  });

  it('a graph with other thresholds does not take them: its synapses are quantized for its own thresholds', async () => {
    const kept = new KeptSynapsePlans();
    await keepSynapsePlans(kept, async () => {
      withSynapsePlans(() => emit(readBundleGraph(bundle)), { record: true });
      const recorded = kept.size;
      const other = readBundleGraph(bundle);
      const [name, theta] = [...other.weights].find(([n]) => n.endsWith('.threshold'))!;
      other.weights.set(name, { ...theta, source: { kind: 'data', data: weightData(theta).map((t) => t * 2) } });
      const changed = usersOf(other, name);
      expect(changed).toBeGreaterThan(0);
      const emitted = synapseInitializers(emit(other, true));
      expect(kept.size).toBe(changed); // the plans of the changed synapses stay untaken
      expect(recorded).toBeGreaterThan(changed);
      expect([...emitted].filter(([n, b]) => !fresh.get(n)!.equals(b)).length).toBeGreaterThan(0);
    });
  });

  it('outside keepSynapsePlans nothing is recorded (an emission quantizes anew)', () => {
    const before = synapseInitializers(withSynapsePlans(() => emit(readBundleGraph(bundle)), { record: true }));
    expect([...before.keys()].sort()).toEqual([...fresh.keys()].sort());
  });
});

describe('synapse plans prepared on worker threads', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = (await convert(GPT2_DIR, { ...FAST, timesteps: 8, out: join(tempDir('snn-prepared-'), 'm.snn') })).bundlePath;
  });

  it('a dry emission asks for every integer synapse; the plans made on 2 threads give the initializers of planning in this thread, bit for bit', async () => {
    const graph = readBundleGraph(bundle);
    const serial = synapseInitializers(emit(graph, true));
    const prepared = await prepareSynapsePlans(() => emitOnnx(graph, { mode: 'snn', placeWeight: () => NOWHERE, spikeCounts: {} }), 2);
    expect(prepared.plans.length, 'the built worker module (npm run build) plans on 2 threads').toBe([...serial.keys()].filter((n) => n.endsWith('.scale')).length);
    const pooled = synapseInitializers(withSynapsePlans(() => emit(graph, true), { prepared }));
    expect([...pooled.keys()].sort()).toEqual([...serial.keys()].sort());
    for (const [name, bytes] of serial) expect(pooled.get(name)!.equals(bytes), name).toBe(true);
  });

  it('a dry emission whose plans are all kept asks for none (no worker is started); the real one then takes them', async () => {
    const kept = new KeptSynapsePlans();
    await keepSynapsePlans(kept, async () => {
      withSynapsePlans(() => emit(readBundleGraph(bundle)), { record: true });
      const recorded = kept.size;
      expect(recorded).toBeGreaterThan(0);
      const graph = readBundleGraph(bundle);
      const prepared = await prepareSynapsePlans(() => emitOnnx(graph, { mode: 'snn', placeWeight: () => NOWHERE, spikeCounts: {} }), 2);
      expect(prepared.plans).toEqual([]);
      expect(kept.size).toBe(recorded);
      withSynapsePlans(() => emit(graph, true), { prepared });
      expect(kept.size).toBe(0);
    });
  });

  it('with one thread nothing is prepared (the emission plans as it goes)', async () => {
    const graph = readBundleGraph(bundle);
    expect((await prepareSynapsePlans(() => emitOnnx(graph, { mode: 'snn', placeWeight: () => NOWHERE }), 1)).plans).toEqual([]);
  });
});

/** Integer synapses fed by the neuron whose threshold weight is `threshold`. */
function usersOf(graph: Graph, threshold: string): number {
  const neuron = graph.nodes.find((n) => n.weights['threshold'] === threshold)!;
  return graph.nodes.filter((n) => n.op === 'Linear' && n.inputs.some((i) => neuron.outputs.includes(i))).length;
}
