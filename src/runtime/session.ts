// onnxruntime-node sessions over emitted models, and one typed `run` for prefill and decode steps.
import { copyFileSync, linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import ort from 'onnxruntime-node';
import { SnnError } from '../errors/index.js';
import { emitOnnx, type Execution, type WeightPlacement } from '../emit/lower.js';
import { weightData } from '../weights/weight-data.js';
import { ATTENTION_MASK, INPUT_IDS, LOGITS, POSITION_IDS, pastKey, pastValue, presentKey, presentValue } from '../ir/io.js';
import type { Graph, ModelSpec, Weight } from '../ir/types.js';

export type Device = 'cpu' | 'cuda';

export interface SessionOptions {
  readonly device?: Device;
  /** Extra outputs to fetch on request: spike tensors or observed values. */
  readonly exposeSpikes?: boolean;
  readonly observe?: readonly string[];
  /** Only the observed values are outputs: the LM head and KV outputs are pruned (calibration). */
  readonly observeOnly?: boolean;
  /** Trade speed for memory: no weight prepacking, no arena (calibration; `--low-memory`). */
  readonly lowMemory?: boolean;
  /** Execution form of a spiking graph (default: the code's own, see emitOnnx). */
  readonly execution?: Execution;
}

/** One forward call: `seq` new tokens per row on top of `past` cached tokens. */
export interface StepInput {
  readonly batch: number;
  readonly seq: number;
  readonly ids: BigInt64Array;
  /** [batch, past + seq], 1 = attend. */
  readonly mask: BigInt64Array;
  readonly positions: BigInt64Array;
  readonly past: number;
  /** Per layer K then V, each [batch, kvHeads, past, headDim]; empty when past = 0. */
  readonly cache: readonly Float32Array[];
}

export interface StepOutput {
  /** [batch, seq, vocab]. */
  readonly logits: Float32Array;
  /** Per layer K then V, each [batch, kvHeads, past + seq, headDim]. */
  readonly present: Float32Array[];
  /** Requested extra outputs by name (`spikes/<site>`, `observe/<value>`). */
  readonly extra: ReadonlyMap<string, { readonly data: Float32Array; readonly dims: readonly number[] }>;
}

export class ModelSession {
  constructor(
    readonly spec: ModelSpec,
    private readonly session: ort.InferenceSession,
    /** T for a spiking model, null for the ANN. */
    readonly timesteps: number | null,
    readonly extraOutputs: readonly string[],
  ) {}

  async run(input: StepInput, extra: readonly string[] = []): Promise<StepOutput> {
    const { spec } = this;
    const fetches = [LOGITS, ...Array.from({ length: spec.numLayers }, (_, l) => [presentKey(l), presentValue(l)]).flat(), ...extra];
    const out = await this.session.run(this.feeds(input), fetches);
    const extraOut = new Map(extra.map((name) => [name, { data: out[name]!.data as Float32Array, dims: out[name]!.dims }]));
    return {
      logits: out[LOGITS]!.data as Float32Array,
      present: Array.from({ length: spec.numLayers }, (_, l) => [out[presentKey(l)]!.data as Float32Array, out[presentValue(l)]!.data as Float32Array]).flat(),
      extra: extraOut,
    };
  }

  /** Fetches only the named extra outputs (for sessions opened with `observeOnly`). */
  async observe(input: StepInput, names: readonly string[]): Promise<Map<string, Float32Array>> {
    const out = await this.session.run(this.feeds(input), [...names]);
    return new Map(names.map((n) => [n, out[n]!.data as Float32Array]));
  }

  private feeds(input: StepInput): Record<string, ort.Tensor> {
    const { spec } = this;
    const total = input.past + input.seq;
    const feeds: Record<string, ort.Tensor> = {
      [INPUT_IDS]: new ort.Tensor('int64', input.ids, [input.batch, input.seq]),
      [ATTENTION_MASK]: new ort.Tensor('int64', input.mask, [input.batch, total]),
      [POSITION_IDS]: new ort.Tensor('int64', input.positions, [input.batch, input.seq]),
    };
    const kvDims = [input.batch, spec.numKvHeads, input.past, spec.headDim];
    const empty = new Float32Array(0);
    for (let l = 0; l < spec.numLayers; l++) {
      feeds[pastKey(l)] = new ort.Tensor('float32', input.past === 0 ? empty : input.cache[2 * l]!, kvDims);
      feeds[pastValue(l)] = new ort.Tensor('float32', input.past === 0 ? empty : input.cache[2 * l + 1]!, kvDims);
    }
    return feeds;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Default: onnxruntime prepacks MatMul weights (faster GEMMs, and batched rows then match single rows
 * bit for bit in the tests) at the price of a packed copy of every weight. `lowMemory` turns prepacking
 * and the arena off: weights stay in the external data file (distilgpt2-shaped ANN: peak RSS ~1.9× the
 * weights instead of 2.2–2.4×; session build 2.3 s → 0.2 s).
 */
export function sessionOptions(device: Device = 'cpu', lowMemory = false): ort.InferenceSession.SessionOptions {
  const base: ort.InferenceSession.SessionOptions = { executionProviders: [device], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  return lowMemory ? { ...base, enableCpuMemArena: false, extra: { session: { disable_prepacking: '1' } } } : base;
}

/** Creates a session from a model file, mapping a missing execution provider to a clear error. */
export async function createSession(modelPath: string, device: Device = 'cpu', lowMemory = false): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(modelPath, sessionOptions(device, lowMemory));
  } catch (e) {
    if (device !== 'cpu') {
      throw new SnnError('DEVICE_UNAVAILABLE', {
        message: `onnxruntime-node could not use ${device}: ${(e as Error).message}`,
        at: modelPath,
        hint: 'install the CUDA build (CUDA 12 and cuDNN 9 present): npm install-scripts approve onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node; or use --device cpu',
        cause: e,
      });
    }
    throw new SnnError('ONNX_INVALID', { message: `onnxruntime refused the model: ${(e as Error).message}`, at: modelPath, cause: e });
  }
}

/**
 * Emits `graph` (ANN or spiking) to a private temp folder and opens it. F32 weights in source
 * safetensors files are referenced as ONNX external data through a hard link (a copy across file
 * systems: onnxruntime only reads external data inside the model's folder), so the weights are never
 * held twice in memory; F16/BF16 and in-memory weights are converted into the model.
 */
export async function openGraphSession(graph: Graph, mode: 'ann' | 'snn', opts: SessionOptions = {}): Promise<ModelSession> {
  const dir = mkdtempSync(join(tmpdir(), 'snnconvert-'));
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
    const emitted = emitOnnx(graph, { mode, placeWeight, exposeSpikes: opts.exposeSpikes ?? false, observe: opts.observe ?? [], modelOutputs: !opts.observeOnly, ...(opts.execution ? { execution: opts.execution } : {}) });
    const modelPath = join(dir, 'model.onnx');
    writeFileSync(modelPath, emitted.bytes);
    const session = await createSession(modelPath, opts.device, opts.lowMemory ?? false);
    const extras = [...emitted.spikeOutputs.map((s) => s.output), ...emitted.saturationOutputs.map((s) => s.output), ...(opts.observe ?? []).map((o) => `observe/${o}`)];
    return new ModelSession(graph.spec, session, mode === 'snn' ? graph.spiking!.timesteps : null, extras);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function placeFile(source: string, target: string): void {
  try {
    linkSync(source, target);
  } catch {
    copyFileSync(source, target);
  }
}
