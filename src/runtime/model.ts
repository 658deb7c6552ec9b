// Runnable models: the interface the runtime runs, and a .snn bundle (SNN, with its ANN reference) behind it.
import { join } from 'node:path';
import { SnnError } from '../errors/index.js';
import { FILES } from '../emit/bundle/format.js';
import { readBundle, type BundleContents } from '../emit/bundle/read.js';
import { resolveExecution, type Execution } from '../emit/lower.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/tokenizer.js';
import type { ModelSpec } from '../ir/types.js';
import { EventSession } from '../reference/session.js';
import { parseDevice, type Device, type DeviceChoice } from './device.js';
import { createDeviceSession, createSession, kvOutputNames, ModelSession, openGraphSession } from './session.js';

/** What the runtime needs of a model: its spec, tokenizer, and sessions built once and reused. */
export interface RunnableModel {
  readonly name: string;
  readonly spec: ModelSpec;
  readonly tokenizer: Tokenizer;
  /** T of the spiking model; null when only the ANN is available. */
  readonly timesteps: number | null;
  readonly recipe: string | null;
  /** The session for the SNN (`ann: false`) or its source ANN (`ann: true`). */
  session(ann: boolean): Promise<ModelSession>;
  release(): Promise<void>;
}

export interface LoadBundleOptions {
  /** cpu (default), webgpu, cuda, or auto: the best device present (see autoCandidates). */
  readonly device?: DeviceChoice;
  /** Verify every file's sha256 (default true). */
  readonly verify?: boolean;
  /**
   * `steps`: run the step-by-step reference simulation of every neuron, emitted from graph.json,
   * instead of model.onnx (the closed, T-parallel form for the weighted code). `events`: the
   * event-driven reference (src/reference: membranes, thresholds and event-by-event integer synapses
   * simulated in TypeScript; CPU). Default: model.onnx.
   */
  readonly simulate?: Execution | 'events';
}

/** The execution forms `--simulate` accepts. */
export const SIMULATIONS: readonly string[] = ['closed', 'steps', 'events'];

/** A loaded .snn bundle. The SNN session is built at load; the ANN reference on first use. */
export class Bundle implements RunnableModel {
  private annSession: Promise<ModelSession> | null = null;

  constructor(readonly contents: BundleContents, readonly tokenizer: Tokenizer, private readonly snn: ModelSession, readonly device: Device) {}

  get name(): string { return this.contents.path; }
  get path(): string { return this.contents.path; }
  get spec(): ModelSpec { return this.contents.graph.spec; }
  get timesteps(): number { return this.contents.meta.timesteps; }
  get recipe(): string { return this.contents.meta.recipe; }
  get meta() { return this.contents.meta; }

  /** Spike output names by site, in graph order. */
  get spikeOutputs(): readonly { readonly site: string; readonly output: string; readonly channels: number }[] {
    return this.contents.meta.neurons.map((n) => ({ site: n.site, output: n.output, channels: n.channels }));
  }

  async session(ann: boolean): Promise<ModelSession> {
    if (!ann) return this.snn;
    const kv = kvOutputNames(this.spec);
    this.annSession ??= createSession(join(this.path, FILES.annModel), this.device, false, kv).then((s) => new ModelSession(this.spec, s, null, [], this.device));
    return this.annSession;
  }

  async release(): Promise<void> {
    await this.snn.release();
    if (this.annSession) await (await this.annSession).release();
  }
}

/**
 * Loads a bundle: validates it (hashes included), loads its tokenizer and builds the SNN session.
 * @example
 * const bundle = await loadBundle('shakespeare.snn', { device: 'webgpu' });
 * bundle.device; // 'webgpu' (with `auto`: the device it resolved to)
 */
export async function loadBundle(path: string, opts: LoadBundleOptions = {}): Promise<Bundle> {
  const choice = parseDevice(opts.device, 'device');
  const contents = readBundle(path, { verify: opts.verify ?? true });
  const tokenizer = await loadTokenizer(contents.path);
  if (opts.simulate !== undefined && !SIMULATIONS.includes(opts.simulate)) throw new SnnError('OPTION_INVALID', { message: `unknown execution form ${JSON.stringify(opts.simulate)} (valid: ${SIMULATIONS.join(', ')})`, at: '--simulate' });
  if (opts.simulate === 'events') return new Bundle(contents, tokenizer, await EventSession.open(contents), 'cpu');
  const builtIn = resolveExecution(contents.graph, undefined);
  if (opts.simulate && opts.simulate !== builtIn) {
    const snn = await openGraphSession(contents.graph, 'snn', { device: choice, exposeSpikes: true, execution: opts.simulate });
    return new Bundle(contents, tokenizer, snn, snn.device);
  }
  const spec = contents.graph.spec;
  const { session, device } = await createDeviceSession(join(contents.path, FILES.snnModel), choice, { kvOutputs: kvOutputNames(spec) });
  if (device === 'webgpu' && contents.graph.spiking?.code === 'weighted') {
    // model.onnx rounds with Round, which WebGPU lacks: the same closed form with portable rounding runs wholly on the device.
    await session.release();
    const portable = (await openGraphSession(contents.graph, 'snn', { device })).withSpikeSource(() => openGraphSession(contents.graph, 'snn', { device, exposeSpikes: true }));
    return new Bundle(contents, tokenizer, portable, device);
  }
  const snn = new ModelSession(spec, session, contents.meta.timesteps, contents.meta.neurons.map((n) => n.output), device)
    .withSpikeSource(() => openGraphSession(contents.graph, 'snn', { device, exposeSpikes: true }));
  return new Bundle(contents, tokenizer, snn, device);
}
