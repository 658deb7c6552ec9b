// onnxruntime-node sessions over a bundle's model files, and one typed `run` for prefill and decode steps.
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { SnnError } from '../errors/index.js';
import { ATTENTION_MASK, INPUT_IDS, LOGITS, POSITION_IDS, pastKey, pastValue, presentKey, presentValue } from '../ir/io.js';
import type { ModelSpec } from '../ir/types.js';
import { parseThreads } from '../options/values.js';
import { autoCandidates, deviceHint, type Device, type DeviceChoice } from './device.js';
import { DeviceKv, downloadTensor, type KvBlock } from './device-kv.js';

export type { Device, DeviceChoice } from './device.js';

/** One forward call: `seq` new tokens per row on top of `past` cached tokens. */
export interface StepInput {
  readonly batch: number;
  readonly seq: number;
  readonly ids: BigInt64Array;
  /** [batch, past + seq], 1 = attend. */
  readonly mask: BigInt64Array;
  readonly positions: BigInt64Array;
  readonly past: number;
  /** Per layer K then V, each [batch, kvHeads, past, headDim]; empty when past = 0. Device blocks only with batch 1. */
  readonly cache: readonly KvBlock[];
}

export interface StepOutput {
  /** [batch, seq, vocab]. */
  readonly logits: Float32Array;
  /** Per layer K then V, each [batch, kvHeads, past + seq, headDim]. */
  readonly present: Float32Array[];
  /** Requested extra outputs by name (`spikes/<site>`, `observe/<value>`). */
  readonly extra: ReadonlyMap<string, { readonly data: Float32Array; readonly dims: readonly number[] }>;
}

/** A step whose present K/V may stay on the device (batch 1 on WebGPU): fed back as the next step's cache. */
export interface KvStepOutput extends Omit<StepOutput, 'present'> {
  /** Per layer K then V, each [batch, kvHeads, past + seq, headDim]; DeviceKv blocks stay in GPU memory. */
  readonly present: KvBlock[];
}

export interface RunOptions {
  /**
   * On a device that keeps K/V (WebGPU), return a batch-1 step's present K/V as device blocks, to be
   * fed back as the next step's cache without a trip through the host (default: every output on the host).
   */
  readonly keepKv?: boolean;
}

export class ModelSession {
  constructor(
    readonly spec: ModelSpec,
    private readonly session: ort.InferenceSession,
    /** T for a spiking model, null for the ANN. */
    readonly timesteps: number | null,
    readonly extraOutputs: readonly string[],
    /** The device the session runs on (a resolved `auto`). */
    readonly device: Device = 'cpu',
  ) {}

  private openSpikes: (() => Promise<ModelSession>) | null = null;
  private spikes: Promise<ModelSession> | null = null;

  /**
   * Where extra outputs this graph does not expose are computed: the weighted code's model.onnx leaves
   * the spike planes out (onnxruntime runs every node of a graph, asked for or not), and a call that
   * asks for them runs on this second session of the same closed form with them exposed.
   */
  withSpikeSource(open: () => Promise<ModelSession>): this {
    this.openSpikes = open;
    return this;
  }

  /** One forward call: logits, present K/V and the `extra` outputs asked for, on the host unless `keepKv`. */
  run(input: StepInput, extra?: readonly string[]): Promise<StepOutput>;
  run(input: StepInput, extra: readonly string[], opts: RunOptions): Promise<KvStepOutput>;
  async run(input: StepInput, extra: readonly string[] = [], opts: RunOptions = {}): Promise<KvStepOutput> {
    if (this.openSpikes && extra.some((n) => !this.session.outputNames.includes(n))) {
      this.spikes ??= this.openSpikes();
      return (await this.spikes).run(input, extra, opts);
    }
    const names = kvOutputNames(this.spec);
    const out = await this.call(input, [LOGITS, ...names, ...extra]);
    const keep = (opts.keepKv ?? false) && input.batch === 1;
    const present = await Promise.all(names.map((n): Promise<KvBlock> | KvBlock => {
      const t = out[n]!;
      return keep && t.location === 'gpu-buffer' ? DeviceKv.wrap(t) : hostData(t);
    }));
    const extraOut = new Map(extra.map((name) => [name, { data: out[name]!.data as Float32Array, dims: out[name]!.dims }]));
    return { logits: out[LOGITS]!.data as Float32Array, present, extra: extraOut };
  }

  /** Fetches only the named extra outputs (for sessions opened with `observeOnly`). */
  async observe(input: StepInput, names: readonly string[]): Promise<Map<string, Float32Array>> {
    const out = await this.call(input, [...names]);
    return new Map(names.map((n) => [n, out[n]!.data as Float32Array]));
  }

  /** The named extra outputs and the present K/V, on the host (for sessions opened with `observeOnly: 'cache'`). */
  async observeCached(input: StepInput, names: readonly string[]): Promise<{ observed: Map<string, Float32Array>; present: Float32Array[] }> {
    const kv = kvOutputNames(this.spec);
    const out = await this.call(input, [...kv, ...names]);
    return { observed: new Map(names.map((n) => [n, out[n]!.data as Float32Array])), present: await Promise.all(kv.map((n) => hostData(out[n]!))) };
  }

  /** Runs the session; a failure on a device other than the CPU names the device and the way out. */
  private async call(input: StepInput, fetches: readonly string[]): Promise<ort.InferenceSession.ReturnType> {
    const feeds = await this.feeds(input);
    try {
      return await this.session.run(feeds, [...fetches]);
    } catch (e) {
      if (this.device === 'cpu') throw e;
      throw new SnnError('DEVICE_RUN_FAILED', { message: `${this.device} could not run the step: ${oneLine(e)}`, at: `${this.device} session`, cause: e });
    }
  }

  private async feeds(input: StepInput): Promise<Record<string, ort.Tensor>> {
    const { spec } = this;
    const total = input.past + input.seq;
    const feeds: Record<string, ort.Tensor> = {
      [INPUT_IDS]: new ort.Tensor('int64', input.ids, [input.batch, input.seq]),
      [ATTENTION_MASK]: new ort.Tensor('int64', input.mask, [input.batch, total]),
      [POSITION_IDS]: new ort.Tensor('int64', input.positions, [input.batch, input.seq]),
    };
    const kvDims = [input.batch, spec.numKvHeads, input.past, spec.headDim];
    const empty = new Float32Array(0);
    const block = async (b: KvBlock | undefined): Promise<ort.Tensor> => (input.past === 0 || b === undefined
      ? new ort.Tensor('float32', empty, kvDims)
      : b instanceof DeviceKv ? b.feed() : new ort.Tensor('float32', b, kvDims));
    for (let l = 0; l < spec.numLayers; l++) {
      feeds[pastKey(l)] = await block(input.cache[2 * l]);
      feeds[pastValue(l)] = await block(input.cache[2 * l + 1]);
    }
    return feeds;
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.spikes) await (await this.spikes).release();
  }
}

/**
 * onnxruntime's graph optimizations stop at `basic` (constant folding, dead-node removal): the `extended`
 * fusions rewrite float arithmetic (Add + LayerNormalization → SkipLayerNormalization, MatMul + Mul →
 * FusedMatMul) and fire or not depending on the shapes inferred for each graph, so the closed and the
 * step-by-step forms of one model could round a neuron's input differently: one ulp at a count's
 * rounding tie moves the count by 1 (docs/design.md §2, §5: the forms agree bit for bit).
 */
export const EXACT_OPTIMIZATION = 'basic' as const;

/**
 * Default: onnxruntime prepacks MatMul weights (faster GEMMs, and batched rows then match single rows
 * bit for bit in the tests) at the price of a packed copy of every weight. `lowMemory` turns prepacking
 * and the arena off: weights stay in the external data file (distilgpt2-shaped ANN: peak RSS ~1.9× the
 * weights instead of 2.2–2.4×; session build 2.3 s → 0.2 s). Memory patterns are off: onnxruntime
 * allocates a pattern's block for each run and frees it after, so each run faulted in fresh pages
 * (a 1 024-token SmolLM2-135M-shaped window 4.0 → 3.0 s without them); the arena keeps its buffers.
 */
export function sessionOptions(device: Device = 'cpu', lowMemory = false, kvOutputs: readonly string[] = []): ort.InferenceSession.SessionOptions {
  // WebGPU: onnxruntime's own error log line would duplicate the DEVICE_RUN_FAILED we throw; fatal only.
  const base: ort.InferenceSession.SessionOptions = { executionProviders: [device], graphOptimizationLevel: EXACT_OPTIMIZATION, logSeverityLevel: device === 'webgpu' ? 4 : 3, intraOpNumThreads: sessionThreads(), enableMemPattern: false };
  // WebGPU: K/V outputs stay in GPU memory (fed back by I/O binding); everything else comes to the host.
  const placed = device === 'webgpu' && kvOutputs.length > 0
    ? { ...base, preferredOutputLocation: Object.fromEntries(kvOutputs.map((n) => [n, 'gpu-buffer' as const])) }
    : base;
  return lowMemory ? { ...placed, enableCpuMemArena: false, extra: { session: { disable_prepacking: '1' } } } : placed;
}

let chosenThreads: number | null = null;

/**
 * Sets the threads every session opened after this call runs one operator on (onnxruntime's intra-op
 * pool); `null` goes back to the default (SNNCONVERT_THREADS, else every physical core). Results do not
 * depend on it: onnxruntime's CPU kernels split work by output blocks, each summed in one order
 * (tested: logits bit for bit at 1 and 2 threads).
 */
export function setThreads(threads: number | null): void {
  chosenThreads = threads === null ? null : parseThreads(threads, 'setThreads');
}

/**
 * Threads per session: setThreads's, else SNNCONVERT_THREADS, else the physical cores this process may
 * run on. Set explicitly because onnxruntime's own default can be one thread: on a 2-core VM it ran
 * every operator on one core, and a conversion used half the machine (bench/RESULTS.md).
 */
export function sessionThreads(): number {
  if (chosenThreads !== null) return chosenThreads;
  const env = process.env['SNNCONVERT_THREADS'];
  if (env !== undefined && env.trim() !== '') return parseThreads(env, 'SNNCONVERT_THREADS');
  return Math.max(1, Math.min(availableParallelism(), physicalCores() ?? Infinity));
}

let physical: number | null | undefined;

/** Distinct (package, core) pairs of the online CPUs (Linux sysfs), null where that is not readable. */
function physicalCores(): number | null {
  if (physical !== undefined) return physical;
  try {
    const root = '/sys/devices/system/cpu';
    const cores = new Set<string>();
    for (const cpu of readdirSync(root).filter((d) => /^cpu\d+$/.test(d))) {
      try {
        const read = (f: string) => readFileSync(`${root}/${cpu}/topology/${f}`, 'utf8').trim();
        cores.add(`${read('physical_package_id')}:${read('core_id')}`);
      } catch { /* offline CPUs have no topology */ }
    }
    physical = cores.size > 0 ? cores.size : null;
  } catch {
    physical = null;
  }
  return physical;
}

/** The K/V output names of a model of `spec`, per layer K then V (what a device keeps between steps). */
export function kvOutputNames(spec: ModelSpec): string[] {
  return Array.from({ length: spec.numLayers }, (_, l) => [presentKey(l), presentValue(l)]).flat();
}

/** Creates a session from a model file, mapping a missing execution provider to a clear error. */
export async function createSession(modelPath: string, device: Device = 'cpu', lowMemory = false, kvOutputs: readonly string[] = []): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(modelPath, sessionOptions(device, lowMemory, kvOutputs));
  } catch (e) {
    if (device !== 'cpu') {
      throw new SnnError('DEVICE_UNAVAILABLE', { message: `onnxruntime-node could not use ${device}: ${oneLine(e)}`, at: modelPath, hint: deviceHint(device), cause: e });
    }
    throw new SnnError('ONNX_INVALID', { message: `onnxruntime refused the model: ${oneLine(e)}`, at: modelPath, cause: e });
  }
}

/** A device `auto` tried and passed over, and why (onnxruntime's reason, one line). */
export interface DeviceSkip {
  readonly device: Device;
  readonly reason: string;
}

/**
 * A session on `choice`; `auto` takes the first of its candidates whose provider opens the model, and
 * `skipped` says why each earlier one did not (shown with `--verbose`).
 */
export async function createDeviceSession(modelPath: string, choice: DeviceChoice, opts: { readonly lowMemory?: boolean; readonly kvOutputs?: readonly string[] } = {}): Promise<{ session: ort.InferenceSession; device: Device; skipped: readonly DeviceSkip[] }> {
  const candidates = choice === 'auto' ? autoCandidates() : [choice];
  const skipped: DeviceSkip[] = [];
  for (const [i, device] of candidates.entries()) {
    try {
      return { session: await createSession(modelPath, device, opts.lowMemory ?? false, opts.kvOutputs ?? []), device, skipped };
    } catch (e) {
      const last = i === candidates.length - 1;
      if (last || !(e instanceof SnnError) || e.code !== 'DEVICE_UNAVAILABLE') throw e;
      skipped.push({ device, reason: e.message });
    }
  }
  throw new Error('unreachable: the last candidate returns or throws');
}

/** An onnxruntime error as one line (its messages end in newlines and may span several). */
function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).trim().replace(/\s*\n\s*/g, ' ');
}

/** A tensor's floats on the host (a device tensor is downloaded and freed). */
async function hostData(t: ort.Tensor): Promise<Float32Array> {
  if (t.location !== 'gpu-buffer') return t.data as Float32Array;
  const data = await downloadTensor(t);
  t.dispose();
  return data;
}
