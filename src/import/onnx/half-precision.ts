// fp16 / bf16 exports → the float32 graph they were made from: half weights widened (exact), float↔half Casts dropped, each step counted for the notice.
import { SnnError } from '../../errors/index.js';
import type { Const } from '../../ops/lift.js';
import type { OnnxGraph, OnnxNode } from './read.js';

/** ONNX TensorProto.DataType codes. */
const FLOAT = 1, FLOAT16 = 10, DOUBLE = 11, BFLOAT16 = 16;
const FLOATS: ReadonlySet<number> = new Set([FLOAT, FLOAT16, DOUBLE, BFLOAT16]);
const HALF_NAME: Readonly<Record<number, 'float16' | 'bfloat16'>> = { [FLOAT16]: 'float16', [BFLOAT16]: 'bfloat16' };
/** Relative rounding of a constant stored in the type (half an ulp): what lifting rules allow when they compare constants. */
const ROUNDING: Readonly<Record<number, number>> = { [FLOAT]: 2 ** -24, [FLOAT16]: 2 ** -11, [BFLOAT16]: 2 ** -8 };
/** Ops whose outputs are never floating point, whatever their inputs. */
const NOT_FLOAT = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Not', 'Xor', 'IsNaN', 'IsInf']);

/** What was done to a half-precision export, for the notice and the bundle's meta. */
export interface HalfPrecisionReport {
  readonly dtype: 'float16' | 'bfloat16';
  /** Initializers stored in the half type, now float32 (exact: every half value is a float32). */
  readonly initializers: number;
  /** Constant nodes whose value is stored in the half type, widened likewise. */
  readonly constants: number;
  /** Casts between float32 and the half type, removed: how many cast to each, and the graph outputs cast to float32. */
  readonly castsToHalf: number;
  readonly castsToFloat: number;
  readonly castOutputs: readonly string[];
  /** Casts from an integer or bool (the attention mask, positions) to the half type, now to float32. */
  readonly retargeted: number;
  /** Graph inputs and outputs declared in the half type: float32 in the converted model. */
  readonly io: readonly string[];
  readonly notice: string;
}

export interface WidenedGraph {
  readonly graph: OnnxGraph;
  readonly half: HalfPrecisionReport | null;
  /** Relative rounding of the export's float constants (scale, eps, GELU's coefficients), for the lifting rules. */
  readonly rounding: number;
}

const castTo = (n: OnnxNode): number | undefined => (n.opType === 'Cast' && n.domain === '' ? Number(n.attrs.get('to')) : undefined);

/**
 * Lifts an fp16 (or bf16) export to the float32 graph it computes: transformers.js' `model_fp16.onnx`
 * (onnxconverter-common, keep_io_types: half weights, Casts at the float inputs and outputs) and a
 * torch `.half()` export (half everything) both become the graph of the fp32 export, with the weights
 * the half file holds. A graph with no half type is returned as it is.
 * Throws ONNX_HALF_MIXED when float16 and bfloat16 are both used.
 */
export function widenHalfPrecision(graph: OnnxGraph): WidenedGraph {
  const half = halfTypeOf(graph);
  if (half === null) return { graph, half: null, rounding: ROUNDING[FLOAT]! };
  const float = floatValues(graph);
  const alias = new Map<string, string>(); // a removed Cast's output → the value it cast
  const renamed = new Map<string, string>(); // a value whose removed Cast fed a graph output → that output's name
  const source = (v: string): string => { let x = v; while (alias.has(x)) x = alias.get(x)!; return x; };
  const outputs = new Set(graph.outputs), inputs = new Set(graph.inputs);
  const kept: OnnxNode[] = [];
  let castsToHalf = 0, castsToFloat = 0, retargeted = 0;
  const castOutputs: string[] = [];
  for (const n of graph.nodes) {
    const to = castTo(n);
    if (to === undefined || (to !== FLOAT && to !== half)) { kept.push(n); continue; }
    if (!float.has(n.inputs[0] ?? '')) {
      if (to === half) { kept.push({ ...n, attrs: new Map([...n.attrs, ['to', FLOAT]]) }); retargeted++; } else kept.push(n);
      continue;
    }
    const from = source(n.inputs[0]!), out = n.outputs[0]!;
    if (outputs.has(out)) {
      // The graph output keeps its name: the value the Cast read is renamed to it.
      if (inputs.has(from) || outputs.has(from) || renamed.has(from)) { kept.push({ ...n, opType: 'Identity', attrs: new Map() }); continue; }
      renamed.set(from, out);
      castOutputs.push(out);
    } else alias.set(out, from);
    if (to === half) castsToHalf++; else castsToFloat++;
  }
  const name = (v: string): string => (v === '' ? v : renamed.get(source(v)) ?? source(v));
  const nodes = kept.map((n) => ({ ...n, inputs: n.inputs.map(name), outputs: n.outputs.map((o) => renamed.get(o) ?? o) }));
  const stored = [...graph.halfStored.entries()];
  const report = {
    dtype: HALF_NAME[half]!,
    initializers: stored.filter(([v]) => graph.initializers.has(v)).length,
    constants: stored.filter(([v]) => !graph.initializers.has(v)).length,
    castsToHalf, castsToFloat, castOutputs, retargeted,
    io: [...graph.valueTypes].filter(([, t]) => t === half).map(([v]) => v),
  };
  return { graph: { ...graph, nodes }, half: { ...report, notice: noticeOf(report) }, rounding: ROUNDING[half]! };
}

/** The half type the graph uses (stored weights, Casts, declared inputs/outputs), or null; both at once is refused. */
function halfTypeOf(graph: OnnxGraph): number | null {
  const where = new Map<number, string>();
  const note = (t: number, what: string) => { if (HALF_NAME[t] && !where.has(t)) where.set(t, what); };
  for (const [v, t] of graph.halfStored) note(t, `${graph.initializers.has(v) ? 'initializer' : 'constant'} "${v}"`);
  for (const n of graph.nodes) { const to = castTo(n); if (to !== undefined) note(to, `Cast "${n.name}"`); }
  for (const [v, t] of graph.valueTypes) note(t, `${graph.inputs.includes(v) ? 'input' : 'output'} "${v}"`);
  if (where.size > 1) {
    throw new SnnError('ONNX_HALF_MIXED', {
      message: `the export mixes float16 (${where.get(FLOAT16)!}) and bfloat16 (${where.get(BFLOAT16)!}); an fp16 or a bf16 export is converted, not both in one graph`,
      at: graph.path,
    });
  }
  return where.size === 1 ? [...where.keys()][0]! : null;
}

/** Values of a floating-point type (any width): declared float inputs, float constants, and what ops compute from them. */
function floatValues(graph: OnnxGraph): Set<string> {
  const float = new Set<string>();
  for (const v of graph.inputs) if (FLOATS.has(graph.valueTypes.get(v) ?? 0)) float.add(v);
  for (const [v, c] of graph.initializers) if (c.kind === 'float') float.add(v);
  for (const n of graph.nodes) if (isFloatOutput(n, float)) for (const o of n.outputs) float.add(o);
  return float;
}

function isFloatOutput(n: OnnxNode, float: ReadonlySet<string>): boolean {
  if (n.domain !== '' || NOT_FLOAT.has(n.opType)) return false;
  const value = n.attrs.get('value') as Const | undefined;
  switch (n.opType) {
    case 'Cast': return FLOATS.has(Number(n.attrs.get('to')));
    case 'Constant': return value ? value.kind === 'float' : n.attrs.has('value_float') || n.attrs.has('value_floats');
    case 'ConstantOfShape': return value === undefined || value.kind === 'float';
    case 'Where': return float.has(n.inputs[1] ?? '');
    default: return float.has(n.inputs.find((i) => i !== '') ?? '');
  }
}

type ReportData = Omit<HalfPrecisionReport, 'notice'>;

/** One line naming every cast applied, e.g. "fp16 export: 98 float16 initializers widened to float32 (exact); 8 Cast(float16) …". */
function noticeOf(r: ReportData): string {
  const short = r.dtype === 'float16' ? 'fp16' : 'bf16';
  const widened = [`${r.initializers} ${r.dtype} initializer${r.initializers === 1 ? '' : 's'}`, ...(r.constants ? [`${r.constants} ${r.dtype} constant${r.constants === 1 ? '' : 's'}`] : [])].join(' and ');
  const atOut = r.castOutputs.length === 0 ? '' : ` (at ${r.castOutputs.includes('logits') ? 'logits' : r.castOutputs[0]!}${r.castOutputs.length > 1 ? ` and ${r.castOutputs.length - 1} more output${r.castOutputs.length > 2 ? 's' : ''}` : ''})`;
  const parts = [
    `${widened} widened to float32 (exact)`,
    ...(r.castsToHalf ? [`${r.castsToHalf} Cast(${r.dtype}) node${r.castsToHalf === 1 ? '' : 's'} removed`] : []),
    ...(r.castsToFloat ? [`${r.castsToFloat} Cast(float32) node${r.castsToFloat === 1 ? '' : 's'} removed${atOut}`] : []),
    ...(r.retargeted ? [`${r.retargeted} Cast from an integer to ${r.dtype} now to float32`] : []),
    ...(r.io.length ? [`${r.io.length} ${r.dtype} ${r.io.length === 1 ? 'input/output' : 'inputs/outputs'} (${r.io.slice(0, 2).join(', ')}${r.io.length > 2 ? ', …' : ''}) float32 in the converted model`] : []),
  ];
  return `${short} export: ${parts.join(', ')}; the ANN reference computes in float32 from the ${r.dtype} weights`;
}
