// Builds ONNX ModelProto bytes: nodes, typed I/O, constants, and initializers inline or as external data.
import onnxProto from 'onnx-proto';
import type { Dim } from '../ir/types.js';
import { inferShapes, isComplete, type ValueShape } from './shapes.js';

const { onnx } = onnxProto;

/** The default-domain opset every emitted graph uses (LayerNormalization needs ≥ 17). */
export const OPSET = 17;
const IR_VERSION = 8;

export type OnnxAttr = number | string | readonly number[] | { readonly float: number } | { readonly floats: readonly number[] } | { readonly tensor: ConstTensor };
export type OnnxElem = 'float32' | 'int64' | 'int32' | 'uint8';

export interface ConstTensor {
  readonly dtype: OnnxElem;
  readonly dims: readonly number[];
  readonly values: readonly number[] | Float32Array;
}

/** An initializer whose bytes live in a file next to model.onnx (ONNX external data). */
export interface ExternalRef {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

const ELEM_TYPE: Record<OnnxElem, number> = {
  float32: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64, int32: onnx.TensorProto.DataType.INT32, uint8: onnx.TensorProto.DataType.UINT8,
};

/** Where a derived tensor's bytes go (synapse integers and scales): a reference into a file beside the model, or null to hold them inline. */
export type PlaceDerived = (name: string, data: Int8Array | Int16Array | Float32Array) => ExternalRef | null;

export class OnnxBuilder {
  /** `placeDerived`: tensors derived from the weights (synapses) as external data, shared by every form of a bundle. */
  constructor(private readonly placeDerived: PlaceDerived = () => null) {}

  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly constCache = new Map<string, string>();
  /** Every value's shape where known (inputs, initializers, declared, inferred: shapes.ts). */
  private readonly shapes = new Map<string, ValueShape>();
  private readonly declared = new Set<string>();
  /** Operator domains besides the default one that nodes use (each imported at version 1). */
  private readonly domains = new Set<string>();
  private counter = 0;

  /** A fresh value name under `scope`. */
  fresh(scope: string): string {
    this.counter += 1;
    return `${scope}/${this.counter}`;
  }

  /** Adds one node; returns its output names (`outputs` given, or `count` fresh ones). */
  add(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, OnnxAttr>> = {}, opts: { scope?: string; outputs?: readonly string[]; count?: number; domain?: string } = {}): string[] {
    const scope = opts.scope ?? opType;
    const outputs = opts.outputs ? [...opts.outputs] : Array.from({ length: opts.count ?? 1 }, () => this.fresh(scope));
    if (opts.domain) {
      this.domains.add(opts.domain); // another domain's operators have no shape rules here
    } else {
      const inferred = inferShapes(opType, inputs.map((n) => (n === '' ? null : this.shapes.get(n))), attrs, outputs.length);
      outputs.forEach((o, i) => { const shape = inferred[i]; if (shape && !this.declared.has(o)) this.shapes.set(o, shape); });
    }
    this.nodes.push({
      opType,
      input: [...inputs],
      output: outputs,
      name: `${scope}/${opType}_${this.nodes.length}`,
      attribute: Object.entries(attrs).map(([name, v]) => encodeAttr(name, v)),
      ...(opts.domain ? { domain: opts.domain } : {}),
    });
    return outputs;
  }

  /** Adds one single-output node and returns that output's name. */
  op(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, OnnxAttr>> = {}, scope?: string): string {
    return this.add(opType, inputs, attrs, scope === undefined ? {} : { scope })[0]!;
  }

  /** A constant initializer, shared when the same values are asked for twice. */
  constant(t: ConstTensor): string {
    const key = `${t.dtype}:${t.dims.join('x')}:${Array.from(t.values).join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = `const/${this.constCache.size}`;
    this.initializers.push(encodeConst(name, t));
    const integer = t.dtype === 'int64' || t.dtype === 'int32';
    this.shapes.set(name, { elem: ELEM_TYPE[t.dtype], dims: [...t.dims], ...(integer && t.dims.length <= 1 ? { values: Array.from(t.values) } : {}) });
    this.constCache.set(key, name);
    return name;
  }

  scalar(value: number, dtype: OnnxElem = 'float32'): string {
    return this.constant({ dtype, dims: [], values: [value] });
  }

  ints(values: readonly number[]): string {
    return this.constant({ dtype: 'int64', dims: [values.length], values });
  }

  /** A float32 initializer: inline, or where `placeDerived` puts it. */
  initializer(name: string, dims: readonly number[], data: Float32Array): void {
    const ref = this.placeDerived(name, data);
    if (ref) { this.externalInitializer(name, dims, ref); return; }
    this.initializers.push({ name, dataType: ELEM_TYPE.float32, dims: [...dims], rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    this.shapes.set(name, { elem: ELEM_TYPE.float32, dims: [...dims] });
  }

  /** An INT8 or INT16 initializer (integer synapse weight planes, the INT8 ANN's weights): inline, or where `placeDerived` puts it. */
  intInitializer(name: string, dims: readonly number[], data: Int8Array | Int16Array): void {
    const dataType = data instanceof Int8Array ? onnx.TensorProto.DataType.INT8 : onnx.TensorProto.DataType.INT16;
    const ref = this.placeDerived(name, data);
    if (ref) { this.externalInitializer(name, dims, ref, dataType); return; }
    this.initializers.push({ name, dataType, dims: [...dims], rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    this.shapes.set(name, { elem: dataType, dims: [...dims] });
  }

  /** An initializer stored as external data (see ExternalRef); float32 unless `dataType` says otherwise. */
  externalInitializer(name: string, dims: readonly number[], ref: ExternalRef, dataType: number = ELEM_TYPE.float32): void {
    this.shapes.set(name, { elem: dataType, dims: [...dims] });
    this.initializers.push({
      name,
      dataType,
      dims: [...dims],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: ref.location },
        { key: 'offset', value: String(ref.offset) },
        { key: 'length', value: String(ref.length) },
      ],
    });
  }

  input(name: string, dtype: OnnxElem, shape: readonly Dim[]): void {
    this.inputs.push(valueInfo(name, dtype, shape));
    this.shapes.set(name, { elem: ELEM_TYPE[dtype], dims: [...shape] });
  }

  /**
   * Declares an intermediate value's shape where the inference (shapes.ts) cannot derive it. onnxruntime's
   * memory planner needs known (or named) shapes to reuse buffers; without them it degrades to quadratic
   * time on long unrolled graphs.
   */
  declare(name: string, dtype: OnnxElem, shape: readonly Dim[]): void {
    this.declared.add(name);
    this.shapes.set(name, { elem: ELEM_TYPE[dtype], dims: [...shape] });
  }

  output(name: string, dtype: OnnxElem, shape: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dtype, shape));
  }

  /** Serialises the model, declaring every intermediate value whose shape is fully known. `metadata` lands in ModelProto.metadata_props. */
  toBytes(graphName: string, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
    const io = new Set([...this.inputs, ...this.outputs].map((v) => v.name));
    const valueInfo = this.nodes.flatMap((node) => (node.output ?? []).flatMap((name) => {
      const shape = this.shapes.get(name);
      return shape && isComplete(shape) && !io.has(name) ? [shapeInfo(name, shape.elem, shape.dims)] : [];
    }));
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'snnconvert',
      opsetImport: [{ domain: '', version: OPSET }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: { name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs, valueInfo },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  get nodeCount(): number {
    return this.nodes.length;
  }
}

function valueInfo(name: string, dtype: OnnxElem, shape: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return shapeInfo(name, ELEM_TYPE[dtype], shape);
}

function shapeInfo(name: string, elemType: number, shape: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function encodeConst(name: string, t: ConstTensor): onnxProto.onnx.ITensorProto {
  if (t.dtype === 'int64') {
    const data = new BigInt64Array(t.values.length);
    t.values.forEach((v, i) => { data[i] = BigInt(v); });
    return { name, dataType: ELEM_TYPE.int64, dims: [...t.dims], rawData: new Uint8Array(data.buffer) };
  }
  const data = t.dtype === 'int32' ? Int32Array.from(t.values) : t.dtype === 'uint8' ? Uint8Array.from(t.values) : Float32Array.from(t.values);
  return { name, dataType: ELEM_TYPE[t.dtype], dims: [...t.dims], rawData: new Uint8Array(data.buffer) };
}

function encodeAttr(name: string, v: OnnxAttr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    return Number.isInteger(v) && !Object.is(v, -0) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: T.FLOATS, floats: [...v.floats] };
  if ('tensor' in v) return { name, type: T.TENSOR, t: encodeConst(name, v.tensor) };
  return { name, type: T.INTS, ints: [...(v as readonly number[])] };
}
