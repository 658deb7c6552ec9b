// ANNs on the 8-bit GEMM (MatMulInteger, exact int32 sums). The W8A8 integer ANN of a spiking graph: the bar
// an SNN has to beat. INT8 activations at the neuron sites (same thresholds θ, the same calibration), INT8
// weights per output channel. And the dynamic form, every Linear's input quantized per row as it comes
// (lowerDynamicInt8Linear): the calibration sampler's.
//
// At each site the activation is quantized symmetrically per channel, a = clip(round(x/u), −127, 127)
// with u = θ/127 (0..127 for an unsigned site). A Linear fed by a site folds u into its weights,
// W_kj·u_k ≈ s_j·w_kj with w int8 per output channel (max-abs scaling), and computes
// y_j = s_j·Σ_k w_kj·a_k + b_j with an exact int32 sum. Every other op is the ANN's (fp32).
import { roundHalfUp } from '../util/round.js';
import { weightData } from '../weights/weight-data.js';
import { linear, linearAttrs } from '../ops/linear.js';
import { isOp, type LowerCtx, type Lowered } from '../ops/op.js';
import type { OnnxBuilder } from '../onnx/onnx-builder.js';
import type { Node } from '../ir/types.js';
import { neuronAttrs } from '../ops/spiking.js';

/** Largest int8 magnitude used (symmetric range). */
export const INT8_MAX = 127;

/** Per-output-channel int8 quantization of the folded weights W_kj·u_k ([in, out] row-major result). */
export function quantizeInt8(weight: Float32Array, transposed: boolean, inF: number, outF: number, unit: Float32Array): { weights: Int8Array; scale: Float32Array } {
  return quantizeColumns(weight, transposed, inF, outF, INT8_MAX, unit);
}

/**
 * Symmetric per-output-channel quantization to integers of at most `max` ([in, out] row-major result):
 * s_j = max_k |W_kj·u_k| / max, w_kj = round(W_kj·u_k / s_j) (u = 1 when absent). Two passes over the
 * weight; without units, no float copy of it (a tied head is the largest tensor of a model).
 */
function quantizeColumns(weight: Float32Array, transposed: boolean, inF: number, outF: number, max: number, unit?: Float32Array): { weights: Int8Array; scale: Float32Array } {
  // The folded weight in storage order ([in, out], or [out, in] when transposed): one pass for the peaks,
  // one for the integers, the transpose written in tiles.
  const folded = unit ? foldUnits(weight, transposed, inF, outF, unit) : weight;
  const peak = new Float32Array(outF);
  if (transposed) {
    for (let j = 0, i = 0; j < outF; j++) {
      let p = 0;
      for (const end = i + inF; i < end; i++) p = Math.max(p, Math.abs(folded[i]!));
      peak[j] = p;
    }
  } else {
    for (let k = 0, i = 0; k < inF; k++) for (let j = 0; j < outF; j++, i++) peak[j] = Math.max(peak[j]!, Math.abs(folded[i]!));
  }
  const scale = Float32Array.from(peak, (p) => (p > 0 ? p / max : 1));
  const weights = new Int8Array(inF * outF);
  if (transposed) {
    const TILE = 64;
    for (let j0 = 0; j0 < outF; j0 += TILE) {
      for (let k0 = 0; k0 < inF; k0 += TILE) {
        const kEnd = Math.min(k0 + TILE, inF);
        for (let j = j0; j < Math.min(j0 + TILE, outF); j++) {
          const s = scale[j]!;
          for (let k = k0, i = j * inF + k0; k < kEnd; k++, i++) weights[k * outF + j] = roundHalfUp(folded[i]! / s);
        }
      }
    }
  } else {
    for (let k = 0, i = 0; k < inF; k++) for (let j = 0; j < outF; j++, i++) weights[i] = roundHalfUp(folded[i]! / scale[j]!);
  }
  return { weights, scale };
}

/** W_kj·u_k in float32, in W's storage order. */
function foldUnits(weight: Float32Array, transposed: boolean, inF: number, outF: number, unit: Float32Array): Float32Array {
  const folded = new Float32Array(weight.length);
  if (transposed) for (let j = 0, i = 0; j < outF; j++) for (let k = 0; k < inF; k++, i++) folded[i] = weight[i]! * unit[k]!;
  else for (let k = 0, i = 0; k < inF; k++) for (let j = 0; j < outF; j++, i++) folded[i] = weight[i]! * unit[k]!;
  return folded;
}

/**
 * Largest weight magnitude of the dynamic INT8 linears: 7 bits, so no pair of u8 × s8 products overflows
 * 16 bits (2 · 255 · 63 < 32 767) where the GEMM sums pairs in saturating int16 (AVX2's VPMADDUBSW):
 * the int32 sums are exact on every CPU.
 */
export const DYNAMIC_WEIGHT_MAX = 63;

/**
 * A Linear on the 8-bit GEMM with its input quantized per row as it comes (EmitOptions.quantized
 * `dynamic`, the calibration sampler's form). Per row (token) of the input, m = max|x| and
 * a = round(x · 127/m), fed as the u8 a + 128 (one zero point for every row: the scale is per row, so it
 * is symmetric); weights 7-bit per output channel (DYNAMIC_WEIGHT_MAX); y_j = (m/127)·s_j·Σ_k w_kj·a_k + b_j
 * with exact int32 sums. A row's result depends on that row alone, as in the float form.
 *
 * The Linears reading one input (q, k and v; gate and up) share its quantization and run as one product
 * whose outputs are split: one GEMM and one scaling instead of each, the same values. onnxruntime's
 * MatMulIntegerToFloat (its com.microsoft domain) sums and scales by s_j in one pass: a MatMulInteger,
 * Cast and Mul cost SmolLM2-135M-shaped's sampler step more than the GEMMs saved (bench/RESULTS.md).
 * This form only ever runs in onnxruntime, inside this process.
 */
export function lowerDynamicInt8Linear(ctx: LowerCtx): Lowered {
  const { b, node } = ctx;
  const x = ctx.input(0);
  let outputs = fusedOutputs.get(b);
  if (!outputs) fusedOutputs.set(b, (outputs = new Map()));
  if (!outputs.has(node.id)) {
    const group = ctx.graph.nodes.filter((n) => n.inputs[0] === node.inputs[0] && isOp(n, linear) && linearAttrs(n)!.inFeatures === linearAttrs(node)!.inFeatures);
    groupProduct(ctx, x, group).forEach((y, i) => outputs.set(group[i]!.id, y));
  }
  return { outputs: [outputs.get(node.id)!], timed: [false] };
}

/** Each builder's outputs of the fused products, by Linear node id. */
const fusedOutputs = new WeakMap<OnnxBuilder, Map<string, string>>();

/** One dynamic INT8 product of `x` for every Linear of `group` (all reading x): their outputs, in order. */
function groupProduct(ctx: LowerCtx, x: string, group: readonly Node[]): string[] {
  const { b } = ctx;
  const scope = group[0]!.id;
  const op = (type: string, inputs: string[], attrs: Record<string, number | number[]> = {}) => b.op(type, inputs, attrs, scope);
  const inF = linearAttrs(group[0]!)!.inFeatures;
  const widths = group.map((n) => linearAttrs(n)!.outFeatures);
  const total = widths.reduce((a, w) => a + w, 0);
  const quantize = (n: Node) => quantizeColumns(weightData(ctx.graph.weights.get(n.weights['weight']!)!), linearAttrs(n)!.transposed, inF, linearAttrs(n)!.outFeatures, DYNAMIC_WEIGHT_MAX);
  // One Linear alone (an LM head) keeps its own integers; a group's are laid side by side, one at a time.
  const { weights, scale } = group.length === 1 ? quantize(group[0]!) : { weights: new Int8Array(inF * total), scale: new Float32Array(total) };
  for (let g = 0, at = 0; group.length > 1 && g < group.length; at += widths[g]!, g++) {
    const q = quantize(group[g]!);
    const outF = widths[g]!;
    for (let k = 0; k < inF; k++) weights.set(q.weights.subarray(k * outF, (k + 1) * outF), k * total + at);
    scale.set(q.scale, at);
  }
  // [..., 1] per row; FLT_MIN keeps an all-zero row's codes 0 instead of 0/0.
  const peak = op('Max', [op('ReduceMax', [op('Abs', [x])], { axes: [-1], keepdims: 1 }), b.scalar(1.1754943508222875e-38)]);
  const codes = op('QuantizeLinear', [op('Mul', [x, op('Div', [b.scalar(INT8_MAX), peak])]), b.scalar(1), b.scalar(128, 'uint8')]);
  const name = `${scope}.dynamic-int8`;
  b.intInitializer(`${name}.weight`, [inF, total], weights);
  b.initializer(`${name}.scale`, [total], scale);
  const [sums] = b.add('MatMulIntegerToFloat', [codes, `${name}.weight`, b.scalar(1), `${name}.scale`, b.scalar(128, 'uint8')], {}, { scope, domain: 'com.microsoft' });
  const scaled = op('Mul', [sums!, op('Div', [peak, b.scalar(INT8_MAX)])]);
  // The biases side by side (zeros for a Linear without one), added once.
  let y = scaled;
  if (group.some((n) => n.weights['bias'] !== undefined)) {
    const bias = new Float32Array(total);
    group.forEach((n, g) => { if (n.weights['bias'] !== undefined) bias.set(weightData(ctx.graph.weights.get(n.weights['bias'])!), widths.slice(0, g).reduce((a, w) => a + w, 0)); });
    b.initializer(`${name}.bias`, [total], bias);
    y = op('Add', [scaled, `${name}.bias`]);
  }
  return group.length === 1 ? [y] : b.add('Split', [y, b.ints(widths)], { axis: -1 }, { scope, count: group.length });
}

/** A site's quantizer: the int8 code a (as float) and, where a float op reads it, u·a. */
export function lowerQuantizer(ctx: LowerCtx): Lowered {
  const { b, node } = ctx;
  const unit = b.op('Div', [ctx.weight('threshold'), b.scalar(INT8_MAX)], {}, node.id);
  const a = b.op('Clip', [b.op('Round', [b.op('Div', [ctx.input(0), unit], {}, node.id)], {}, node.id), b.scalar(neuronAttrs(node)!.kind === 'SignedIF' ? -INT8_MAX : 0), b.scalar(INT8_MAX)], {}, node.id);
  const out = b.op('Mul', [a, unit], {}, node.id);
  ctx.recordCount(out, a);
  return { outputs: [out], timed: [false] };
}

/** A Linear fed by a site: int8 × int8 → int32 (MatMulInteger), then the per-output scale and the bias in fp32. */
export function lowerInt8Linear(ctx: LowerCtx): Lowered | null {
  const { b, node } = ctx;
  const source = ctx.countOf(0);
  if (!source) return null;
  const { inFeatures: inF, outFeatures: outF, transposed } = linearAttrs(node)!;
  const unit = Float32Array.from(weightData(ctx.graph.weights.get(source.thresholdWeight)!), (t) => Math.fround(t / INT8_MAX));
  const { weights, scale } = quantizeInt8(weightData(ctx.graph.weights.get(node.weights['weight']!)!), transposed, inF, outF, unit);
  const name = `${node.id}.int8`;
  b.intInitializer(`${name}.weight`, [inF, outF], weights);
  b.initializer(`${name}.scale`, [outF], scale);
  const codes = b.op('Cast', [source.count], { to: 3 }, node.id);
  const sums = b.op('MatMulInteger', [codes, `${name}.weight`], {}, node.id);
  const scaled = b.op('Mul', [b.op('Cast', [sums], { to: 1 }, node.id), `${name}.scale`], {}, node.id);
  return { outputs: [node.weights['bias'] !== undefined ? b.op('Add', [scaled, ctx.weight('bias')], {}, node.id) : scaled], timed: [false] };
}
