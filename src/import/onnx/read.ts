// Reads an ONNX file into a checked, topologically ordered graph: opset, initializers (external data, int64), cycles, dangling inputs.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { SnnError, throwCollected } from '../../errors/index.js';
import { inlineMergedDecoder } from './merged.js';
import { decodeTensor, int64, type Const, type LongLike, type TensorProtoLike } from './tensor.js';

const { onnx } = onnxProto;
/** TensorProto.DataType FLOAT16 and BFLOAT16. */
const HALF_TYPES: ReadonlySet<number> = new Set([10, 16]);

/** Default-domain opsets the importer understands (the 13–21). */
export const OPSET_MIN = 13;
export const OPSET_MAX = 21;

export type AttrValue = number | string | readonly number[] | Const;

export interface OnnxNode {
  /** The node's name, or `<opType>#<index>` when the exporter left it empty. */
  readonly name: string;
  readonly opType: string;
  /** '' for the default ONNX domain. */
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: ReadonlyMap<string, AttrValue>;
}

export interface OnnxGraph {
  readonly path: string;
  readonly dir: string;
  readonly opset: number;
  readonly producer: string;
  /** Graph inputs that are not initializers, in order. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly initializers: ReadonlyMap<string, Const>;
  /** Topologically ordered. */
  readonly nodes: readonly OnnxNode[];
  /** External data files the initializers were read from. */
  readonly externalFiles: readonly string[];
  /** What the reader changed on the way (a merged decoder's branch taken), for the user. */
  readonly notices: readonly string[];
  /** ONNX element types of the graph's inputs and outputs (TensorProto.DataType), where declared. */
  readonly valueTypes: ReadonlyMap<string, number>;
  /** Initializers and Constant outputs stored in a half type (FLOAT16 10, BFLOAT16 16): decoded to float32 exactly. */
  readonly halfStored: ReadonlyMap<string, number>;
}

/**
 * Reads and checks `path`. Throws ONNX_INVALID (not a ModelProto, a cycle), ONNX_EXTERNAL_DATA, or
 * TENSOR_MISSING (inputs nothing produces), each listing every problem. The opset is checked by
 * `assertOpset`, so that an importer can first say what kind of model it was given.
 * @example
 * const g = readOnnxGraph('fixtures/shakespeare-gpt2/onnx/model.onnx'); // g.opset === 14
 */
export function readOnnxGraph(path: string): OnnxGraph {
  const file = resolve(path);
  const dir = dirname(file);
  const model = decodeModel(file);
  const opset = defaultOpset(model.opsetImport ?? []);
  const graph = model.graph;
  if (!graph) throw new SnnError('ONNX_INVALID', { message: 'the ModelProto has no graph', at: file });
  const initializers = new Map<string, Const>();
  const external = new Set<string>();
  const outerInits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const merged = inlineMergedDecoder(graph, new Set((graph.input ?? []).map((v) => v.name ?? '').filter((n) => !outerInits.has(n))), file);
  const halfStored = new Map<string, number>();
  for (const t of [...(graph.initializer ?? []), ...merged.initializers]) if (HALF_TYPES.has(t.dataType ?? 0)) halfStored.set(t.name ?? '', t.dataType!);
  for (const n of merged.nodes) {
    const value = n.opType === 'Constant' ? (n.attribute ?? []).find((a) => a.name === 'value')?.t : undefined;
    if (value && HALF_TYPES.has(value.dataType ?? 0) && n.output?.[0]) halfStored.set(n.output[0], value.dataType!);
  }
  for (const t of [...(graph.initializer ?? []), ...merged.initializers]) initializers.set(t.name ?? '', decodeTensor(t as TensorProtoLike, dir, `${file} initializer "${t.name ?? ''}"`, (f) => external.add(f)));
  const nodes = merged.nodes.map((n, i): OnnxNode => ({
    name: n.name || `${n.opType ?? '?'}#${i}`,
    opType: n.opType ?? '',
    domain: n.domain === 'ai.onnx' ? '' : n.domain ?? '',
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    attrs: new Map((n.attribute ?? []).map((a) => [a.name ?? '', attrValue(a, dir, `${file} node "${n.name ?? ''}"`)])),
  }));
  const inputs = (graph.input ?? []).map((v) => v.name ?? '').filter((n) => !initializers.has(n));
  const outputs = (graph.output ?? []).map((v) => v.name ?? '');
  const valueTypes = new Map([...(graph.input ?? []), ...(graph.output ?? [])].flatMap((v) => (v.type?.tensorType?.elemType ? [[v.name ?? '', v.type.tensorType.elemType] as const] : [])));
  checkDangling(nodes, new Set([...inputs, ...initializers.keys()]), outputs, file);
  return { path: file, dir, opset, producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(), inputs, outputs, initializers, nodes: topoSort(nodes, file), externalFiles: [...external].sort(), notices: merged.notices, valueTypes, halfStored };
}

function decodeModel(file: string): onnxProto.onnx.ModelProto {
  let bytes: Uint8Array;
  try { bytes = readFileSync(file); } catch (e) {
    throw new SnnError('MODEL_NOT_FOUND', { message: `cannot read ${file} (${(e as Error).message})`, at: file, cause: e });
  }
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new SnnError('ONNX_INVALID', { message: `the file is not a complete ONNX ModelProto (${(e as Error).message}); it is truncated or not ONNX`, at: file, hint: 'export or download the model again', cause: e });
  }
}

/** The default-domain opset version, 0 when the model imports none. */
function defaultOpset(imports: readonly onnxProto.onnx.IOperatorSetIdProto[]): number {
  const entry = imports.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? int64(entry.version as number | LongLike | null | undefined) : 0;
}

/** Throws ONNX_OPSET_UNSUPPORTED unless the default-domain opset is in OPSET_MIN..OPSET_MAX. */
export function assertOpset(graph: OnnxGraph): void {
  if (graph.opset === 0) throw new SnnError('ONNX_OPSET_UNSUPPORTED', { message: 'the model imports no default-domain opset', at: graph.path });
  if (graph.opset < OPSET_MIN || graph.opset > OPSET_MAX) {
    throw new SnnError('ONNX_OPSET_UNSUPPORTED', { message: `default-domain opset ${graph.opset} (supported: ${OPSET_MIN}–${OPSET_MAX})`, at: graph.path });
  }
}

function attrValue(a: onnxProto.onnx.IAttributeProto, dir: string, at: string): AttrValue {
  switch (a.type) {
    case onnx.AttributeProto.AttributeType.FLOAT: return a.f ?? 0;
    case onnx.AttributeProto.AttributeType.INT: return int64(a.i as number | LongLike | null | undefined);
    case onnx.AttributeProto.AttributeType.STRING: return new TextDecoder().decode(a.s ?? new Uint8Array());
    case onnx.AttributeProto.AttributeType.FLOATS: return [...(a.floats ?? [])];
    case onnx.AttributeProto.AttributeType.INTS: return (a.ints ?? []).map((v) => int64(v as number | LongLike));
    case onnx.AttributeProto.AttributeType.TENSOR: return decodeTensor(a.t as TensorProtoLike, dir, `${at} attribute ${a.name ?? ''}`);
    default: return `<unsupported attribute type ${String(a.type)}>`;
  }
}

/** Every node input must be a graph input, an initializer, or some node's output (or '' for an omitted optional input). */
function checkDangling(nodes: readonly OnnxNode[], known: ReadonlySet<string>, outputs: readonly string[], file: string): void {
  const produced = new Set(known);
  for (const n of nodes) for (const o of n.outputs) produced.add(o);
  const problems: string[] = [];
  for (const n of nodes) {
    for (const i of n.inputs) if (i !== '' && !produced.has(i)) problems.push(`node "${n.name}" (${n.opType}) reads "${i}", which no initializer, graph input or node provides`);
  }
  for (const o of outputs) if (!produced.has(o)) problems.push(`graph output "${o}" is produced by no node`);
  throwCollected('TENSOR_MISSING', problems, file, 'the export is incomplete (an initializer or its external data was dropped): export the model again');
}

/** Kahn's algorithm, keeping the file's order among ready nodes; a cycle is reported with its nodes. */
function topoSort(nodes: readonly OnnxNode[], file: string): OnnxNode[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  const deps = nodes.map((n) => new Set(n.inputs.map((i) => producer.get(i)).filter((p): p is number => p !== undefined)));
  const users = nodes.map(() => [] as number[]);
  deps.forEach((ds, i) => ds.forEach((d) => users[d]!.push(i)));
  const pending = deps.map((d) => d.size);
  const ready = pending.flatMap((p, i) => (p === 0 ? [i] : []));
  const order: OnnxNode[] = [];
  while (ready.length > 0) {
    const i = ready.shift()!;
    order.push(nodes[i]!);
    for (const u of users[i]!) if (--pending[u]! === 0) ready.push(u);
  }
  if (order.length < nodes.length) {
    const stuck = nodes.filter((_, i) => pending[i]! > 0).slice(0, 6).map((n) => `"${n.name}" (${n.opType})`);
    throw new SnnError('ONNX_INVALID', { message: `the graph has a cycle through ${stuck.join(', ')}${nodes.length - order.length > 6 ? ', …' : ''}`, at: file, hint: 'an ONNX graph must be acyclic: the file is damaged or was edited by hand' });
  }
  return order;
}
