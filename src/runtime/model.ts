// Runnable models: the interface the runtime runs, and a .snn bundle (its stored SNN forms, its ANN reference) behind it.
import { join } from 'node:path';
import { FILES } from '../bundle/format.js';
import { SnnError } from '../errors/index.js';
import { EXECUTIONS, type BundleForm, type Execution } from '../bundle/format.js';
import { SIMULATIONS } from '../options/values.js';
import { defaultExecution, pickForm } from '../bundle/forms.js';
import { readBundle, type BundleContents } from '../bundle/read.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/tokenizer.js';
import type { ModelSpec } from '../ir/types.js';
import { parseDevice, type Device, type DeviceChoice } from './device.js';
import { createDeviceSession, createSession, kvOutputNames, ModelSession, type DeviceSkip } from './session.js';

/** What the runtime needs of a model: its spec, tokenizer, and sessions built once and reused. */
export interface RunnableModel {
  readonly name: string;
  readonly spec: ModelSpec;
  readonly tokenizer: Tokenizer;
  /**
   * The device it runs on: a bundle's is resolved at load (`auto` → the device that opened); a model
   * whose session opens on first use reports the choice until then.
   */
  readonly device: DeviceChoice;
  /** Devices `auto` passed over, with onnxruntime's reason (absent or empty otherwise). */
  readonly deviceSkips?: readonly DeviceSkip[];
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
   * `steps`: run the step-by-step reference simulation of every neuron (the bundle's stored step
   * form) instead of model.onnx (the closed, T-parallel form for the weighted code). Default: model.onnx's.
   */
  readonly simulate?: Execution;
}

/** A loaded .snn bundle. The SNN session is built at load; the ANN reference on first use. */
export class Bundle implements RunnableModel {
  private annSession: Promise<ModelSession> | null = null;

  constructor(
    readonly contents: BundleContents,
    readonly tokenizer: Tokenizer,
    private readonly snn: ModelSession,
    readonly device: Device,
    /** The stored form the SNN session runs. */
    readonly form: BundleForm,
    readonly deviceSkips: readonly DeviceSkip[] = [],
  ) {}

  get name(): string { return this.contents.path; }
  get path(): string { return this.contents.path; }
  get spec(): ModelSpec { return this.contents.graph.spec; }
  get timesteps(): number { return this.contents.timesteps; }
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
  if (opts.simulate !== undefined && !(EXECUTIONS as readonly string[]).includes(opts.simulate)) {
    const events = (opts.simulate as string) === 'events';
    throw new SnnError('OPTION_INVALID', {
      message: events ? `the event reference is not a stored form (loadBundle runs: ${EXECUTIONS.join(', ')})` : `unknown execution form ${JSON.stringify(opts.simulate)} (valid: ${SIMULATIONS.join(', ')})`,
      at: '--simulate',
      ...(events ? { hint: 'load it with loadEventBundle(path) (the reference sits above the runtime), or run the CLI with --simulate events' } : {}),
    });
  }
  const contents = readBundle(path, { verify: opts.verify ?? true });
  const tokenizer = await loadTokenizer(contents.path);
  const execution = opts.simulate ?? defaultExecution(contents.forms);
  const kvOutputs = kvOutputNames(contents.graph.spec);
  const fileOf = (form: BundleForm): string => join(contents.path, form.file);
  // On `auto` the device is known once a provider opened the model: WebGPU then reopens the portable form.
  let form = pickForm(contents.forms, { execution, spikes: false, portable: choice === 'webgpu' })!;
  const opened = await createDeviceSession(fileOf(form), choice, { kvOutputs });
  const { device } = opened;
  let { session } = opened;
  const portable = device === 'webgpu' ? pickForm(contents.forms, { execution, spikes: false, portable: true })! : form;
  if (portable !== form) {
    // The native form rounds with Round, which WebGPU lacks: its portable twin runs wholly on the device.
    await session.release();
    form = portable;
    session = await createSession(fileOf(form), device, false, kvOutputs);
  }
  const spikeOutputs = contents.meta.neurons.map((n) => n.output);
  const snn = new ModelSession(contents.graph.spec, session, contents.timesteps, spikeOutputs, device);
  const spikeForm = form.spikes ? null : pickForm(contents.forms, { execution, spikes: true, portable: form.rounding === 'portable' });
  if (spikeForm) {
    snn.withSpikeSource(async () => new ModelSession(contents.graph.spec, await createSession(fileOf(spikeForm), device, false, kvOutputs), contents.timesteps, spikeOutputs, device));
  }
  return new Bundle(contents, tokenizer, snn, device, form, opened.skipped);
}
