// The W8A8 integer ANN of a spiking graph: the bar an SNN has to beat. INT8 activations at the neuron sites
// (same thresholds θ, the same calibration), INT8 weights per output channel, int32 sums by MatMulInteger.
//
// At each site the activation is quantized symmetrically per channel, a = clip(round(x/u), −127, 127)
// with u = θ/127 (0..127 for an unsigned site). A Linear fed by a site folds u into its weights,
// W_kj·u_k ≈ s_j·w_kj with w int8 per output channel (max-abs scaling), and computes
// y_j = s_j·Σ_k w_kj·a_k + b_j with an exact int32 sum. Every other op is the ANN's (fp32).
import { weightData } from '../weights/weight-data.js';
import type { LowerCtx, Lowered } from '../ops/op.js';
import { linearAttrs } from '../ops/linear.js';
import { neuronAttrs } from '../ops/spiking.js';

/** Largest int8 magnitude used (symmetric range). */
export const INT8_MAX = 127;

/** Per-output-channel int8 quantization of the folded weights W_kj·u_k ([in, out] row-major result). */
export function quantizeInt8(weight: Float32Array, transposed: boolean, inF: number, outF: number, unit: Float32Array): { weights: Int8Array; scale: Float32Array } {
  const folded = new Float32Array(inF * outF);
  for (let k = 0; k < inF; k++) for (let j = 0; j < outF; j++) folded[k * outF + j] = (transposed ? weight[j * inF + k]! : weight[k * outF + j]!) * unit[k]!;
  const peak = new Float32Array(outF);
  for (let i = 0; i < folded.length; i++) peak[i % outF] = Math.max(peak[i % outF]!, Math.abs(folded[i]!));
  const scale = Float32Array.from(peak, (p) => (p > 0 ? p / INT8_MAX : 1));
  const weights = Int8Array.from(folded, (f, i) => Math.round(f / scale[i % outF]!));
  return { weights, scale };
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
