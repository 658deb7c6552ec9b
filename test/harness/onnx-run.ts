// Test harness: lower an IR graph with emitOnnx, run it in onnxruntime, read ONNX TensorProto files, seeded numbers.
import { readFileSync } from 'node:fs';
import { mulberry32 } from '../../src/util/random.js';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { emitOnnx } from '../../src/emit/lower.js';
import { EXACT_OPTIMIZATION } from '../../src/runtime/session.js';
import { weightData } from '../../src/weights/weight-data.js';
import type { Graph, ModelSpec } from '../../src/ir/types.js';

const { onnx } = onnxProto;

export interface Tensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export type Feed = Float32Array | BigInt64Array;

export interface RunOptions {
  readonly exposeSpikes?: boolean;
  readonly observe?: readonly string[];
  readonly execution?: 'closed' | 'steps';
  /** The portable form (no Round/Sign, float synapse kernel), as WebGPU runs it. */
  readonly portable?: boolean;
}

/** Emits `graph` with every weight inline, runs it once on `feeds` ([data, dims] per input) and returns every output. */
export async function runGraph(
  graph: Graph,
  mode: 'ann' | 'snn',
  feeds: Readonly<Record<string, readonly [Feed, readonly number[]]>>,
  opts: RunOptions = {},
): Promise<Map<string, Tensor>> {
  const emitted = emitOnnx(graph, {
    mode,
    placeWeight: (w) => ({ inline: weightData(w) }),
    exposeSpikes: opts.exposeSpikes ?? false,
    observe: opts.observe ?? [],
    ...(opts.execution ? { execution: opts.execution } : {}),
    ...(opts.portable ? { portable: true } : {}),
  });
  // The runtime's optimization level: fusions would round the forms differently (runtime/session.ts).
  const session = await ort.InferenceSession.create(emitted.bytes, { logSeverityLevel: 3, graphOptimizationLevel: EXACT_OPTIMIZATION });
  try {
    const input: Record<string, ort.Tensor> = {};
    for (const [name, [data, dims]] of Object.entries(feeds)) {
      input[name] = data instanceof BigInt64Array ? new ort.Tensor('int64', data, [...dims]) : new ort.Tensor('float32', data, [...dims]);
    }
    const out = await session.run(input);
    const result = new Map<string, Tensor>();
    for (const name of session.outputNames) {
      const t = out[name];
      if (!t) throw new Error(`test harness: output ${name} missing`);
      result.set(name, { data: t.data as Float32Array, dims: [...t.dims] });
    }
    return result;
  } finally {
    await session.release();
  }
}

export function output(outputs: ReadonlyMap<string, Tensor>, name: string): Tensor {
  const t = outputs.get(name);
  if (!t) throw new Error(`test harness: no output ${name} (have ${[...outputs.keys()].join(', ')})`);
  return t;
}

/** A ModelSpec for graphs that are not language models (one-node op graphs). */
export const OP_SPEC: ModelSpec = {
  arch: 'gpt2', vocabSize: 1, hiddenSize: 1, numLayers: 0, numHeads: 1, numKvHeads: 1, headDim: 1, maxPositions: 1, bosTokenId: null, eosTokenId: null,
};

export interface ProtoTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly float: Float32Array | null;
  readonly int64: BigInt64Array | null;
}

/** Reads an ONNX TensorProto (.pb): raw little-endian data or the typed repeated fields. FLOAT and INT64 only. */
export function readTensorProto(path: string): ProtoTensor {
  const t = onnx.TensorProto.decode(readFileSync(path));
  const dims = t.dims.map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length > 0 ? Buffer.from(t.rawData) : null;
  if (t.dataType === onnx.TensorProto.DataType.FLOAT) {
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = raw ? raw.readFloatLE(4 * i) : t.floatData[i]!;
    return { name: t.name, dims, float: data, int64: null };
  }
  if (t.dataType === onnx.TensorProto.DataType.INT64) {
    const data = new BigInt64Array(count);
    for (let i = 0; i < count; i++) data[i] = raw ? raw.readBigInt64LE(8 * i) : BigInt(String(t.int64Data[i]));
    return { name: t.name, dims, float: null, int64: data };
  }
  throw new Error(`test harness: ${path} has data type ${t.dataType}; only FLOAT and INT64 are read`);
}

export function floatsOf(t: ProtoTensor): Float32Array {
  if (!t.float) throw new Error(`test harness: ${t.name} is not FLOAT`);
  return t.float;
}

/** The attributes of the single node of an ONNX conformance model, by name (ints, floats and strings). */
export function nodeAttributes(modelPath: string): Map<string, number | string> {
  const model = onnx.ModelProto.decode(readFileSync(modelPath));
  const node = model.graph?.node?.[0];
  if (!node) throw new Error(`test harness: ${modelPath} has no node`);
  const attrs = new Map<string, number | string>();
  const A = onnx.AttributeProto.AttributeType;
  for (const a of node.attribute ?? []) {
    if (a.type === A.INT) attrs.set(a.name ?? '', Number(a.i));
    else if (a.type === A.FLOAT) attrs.set(a.name ?? '', a.f ?? 0);
    else if (a.type === A.STRING) attrs.set(a.name ?? '', Buffer.from(a.s ?? new Uint8Array()).toString('utf8'));
  }
  return attrs;
}

/** mulberry32 (the project's PRNG), so every test input is reproducible. */
export const rng = mulberry32;

/** Seeded normal samples (Box–Muller), rounded to float32. */
export function normals(n: number, seed: number, std = 1, mean = 0): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
}

export function uniforms(n: number, seed: number, lo: number, hi: number): Float32Array {
  const u = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * u());
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** max over elements of |a − b| / (atol + rtol·|b|): ≤ 1 means within tolerance. */
export function toleranceRatio(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let m = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i]!;
    const d = Math.abs(actual[i]! - e);
    if (d > 0 || Number.isNaN(d)) m = Math.max(m, Number.isNaN(d) ? Infinity : d / (atol + rtol * Math.abs(e)));
  }
  return m;
}

export function ints(values: readonly number[]): BigInt64Array {
  return BigInt64Array.from(values.map((v) => BigInt(v)));
}
