// Sessions over graphs not read from a bundle (calibration, reports, --ann-only, eval at another T): emitted to a temp folder, then opened.
import { copyFileSync, linkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { makeTempDir } from '../util/temp-paths.js';
import { FILES, type Execution } from '../bundle/format.js';
import { IntStore } from '../emit/bundle/forms.js';
import { emitOnnx, planSynapsesFor, type EmitOptions, type Emitted, type WeightPlacement } from '../emit/lower.js';
import { withSynapsePlans } from '../ops/linear.js';
import type { Graph, Weight } from '../ir/types.js';
import type { DeviceChoice } from '../runtime/device.js';
import { createDeviceSession, kvOutputNames, ModelSession } from '../runtime/session.js';
import { weightData } from '../weights/weight-data.js';

export interface SessionOptions {
  readonly device?: DeviceChoice;
  /** Extra outputs to fetch on request: spike tensors or observed values. */
  readonly exposeSpikes?: boolean;
  /** Expose only the saturation tensors (clipped counts per site), not the spike planes. */
  readonly exposeSaturation?: boolean;
  /** The spike-counts form (the report): per-channel spike sums per site as `spikecounts/<site>`; see emitOnnx. */
  readonly spikeCounts?: EmitOptions['spikeCounts'];
  readonly observe?: readonly string[];
  /** Observed values reduced in the graph to each channel's k largest (see emitOnnx's observeTop). */
  readonly observeTop?: EmitOptions['observeTop'];
  /**
   * Only the observed values are outputs: the LM head and KV outputs are pruned (calibration). `'cache'`
   * keeps the present K/V (a window observed in chunks over the KV cache: ModelSession.observeCached).
   */
  readonly observeOnly?: boolean | 'cache';
  /** Every call feeds at least two tokens per row (see emitOnnx). */
  readonly multiRow?: boolean;
  /** Trade speed for memory: no weight prepacking, no arena (`loadHfAnn({ lowMemory })`; see sessionOptions). */
  readonly lowMemory?: boolean;
  /** Execution form of a spiking graph (default: the code's own, see emitOnnx). */
  readonly execution?: Execution;
  /** An integer form (see emitOnnx): the W8A8 ANN of the spiking graph, or the ANN with dynamic INT8 linears. */
  readonly quantized?: EmitOptions['quantized'];
  /** Inputs that carry the time axis, and outputs that keep it (a rate-coded sub-graph; see emitOnnx). */
  readonly timedInputs?: EmitOptions['timedInputs'];
  readonly keepTimed?: EmitOptions['keepTimed'];
  /** The calibration sampler's form (see emitOnnx). */
  readonly sampler?: EmitOptions['sampler'];
}

/**
 * Emits `graph` (ANN or spiking) into a private temp folder and hands the model path to `use`; the folder
 * is removed afterwards. F32 weights in source safetensors files are referenced as ONNX external data
 * through a hard link (a copy across file systems: onnxruntime only reads external data inside the
 * model's folder), so the weights are never held twice in memory; F16/BF16 and in-memory weights are
 * converted into the model.
 */
export async function withEmittedModel<R>(graph: Graph, mode: 'ann' | 'snn', opts: SessionOptions, use: (modelPath: string, emitted: Emitted) => Promise<R> | R): Promise<R> {
  const { path: dir, remove } = makeTempDir('snnconvert-');
  try {
    const links = new Map<string, string>();
    const placeWeight = (w: Weight): WeightPlacement => {
      const s = w.source;
      if (s.kind === 'file' && s.dtype === 'F32') {
        let link = links.get(s.path);
        if (!link) {
          link = `w${links.size}-${basename(s.path)}`;
          placeFile(s.path, join(dir, link));
          links.set(s.path, link);
        }
        return { external: { location: link, offset: s.offset, length: s.length } };
      }
      return { inline: weightData(w) };
    };
    // Synapse integers as external data too: written raw beside the model, not encoded into it (and parsed back).
    const derived = new IntStore();
    const options: EmitOptions = { mode, placeWeight, placeDerived: derived.place, portable: opts.device === 'webgpu' || opts.device === 'auto', exposeSpikes: opts.exposeSpikes ?? false, exposeSaturation: opts.exposeSaturation ?? false, ...(opts.spikeCounts ? { spikeCounts: opts.spikeCounts } : {}), observe: opts.observe ?? [], ...(opts.observeTop ? { observeTop: opts.observeTop } : {}), modelOutputs: opts.observeOnly === 'cache' ? 'cache' : !opts.observeOnly, ...(opts.execution ? { execution: opts.execution } : {}), ...(opts.quantized ? { quantized: opts.quantized } : {}), ...(opts.timedInputs ? { timedInputs: opts.timedInputs } : {}), ...(opts.keepTimed ? { keepTimed: opts.keepTimed } : {}), ...(opts.sampler ? { sampler: opts.sampler } : {}), ...(opts.multiRow ? { multiRow: true } : {}) };
    // A spiking graph's synapses are quantized beforehand on every core (prepareSynapsePlans).
    const prepared = mode === 'snn' ? await planSynapsesFor(graph, options) : { plans: [] };
    const emitted = withSynapsePlans(() => emitOnnx(graph, options), { prepared });
    const modelPath = join(dir, 'model.onnx');
    writeFileSync(modelPath, emitted.bytes);
    if (!derived.empty) derived.write(join(dir, FILES.synapses));
    return await use(modelPath, emitted);
  } finally {
    remove();
  }
}

/** Emits `graph` (ANN or spiking) and opens a session over it (see withEmittedModel). */
export async function openGraphSession(graph: Graph, mode: 'ann' | 'snn', opts: SessionOptions = {}): Promise<ModelSession> {
  return withEmittedModel(graph, mode, opts, async (modelPath, emitted) => {
    const kvOutputs = opts.observeOnly === true ? [] : kvOutputNames(graph.spec);
    const { session, device } = await createDeviceSession(modelPath, opts.device ?? 'cpu', { lowMemory: opts.lowMemory ?? false, kvOutputs });
    const extras = [...emitted.spikeOutputs.map((s) => s.output), ...emitted.saturationOutputs.map((s) => s.output), ...emitted.countOutputs.map((s) => s.output), ...(opts.observe ?? []).map((o) => `observe/${o}`)];
    return new ModelSession(graph.spec, session, mode === 'snn' ? graph.spiking!.timesteps : null, extras, device);
  });
}

function placeFile(source: string, target: string): void {
  try {
    linkSync(source, target);
  } catch {
    copyFileSync(source, target);
  }
}
