// ONNX patterns that lift to LayerNorm and RMSNorm (norm.ts): the LayerNormalization op and the decomposed forms exporters emit.
import { constAndOther, intAttr, lifted, miss, near, producedBy, reduceAxes, scalarOf, type LiftRule, type LiftView, type OnnxNodeLike } from './lift.js';

const lastAxis = (view: LiftView, n: OnnxNodeLike): boolean => {
  const axes = reduceAxes(view, n);
  return axes !== undefined && axes.length === 1 && (axes[0] === -1 || axes[0] === 2);
};

/** Sqrt(Add(ReduceMean(square(v)), eps)) over the last axis: returns eps and the nodes. */
function rootMeanSquare(view: LiftView, value: string, v: string): { eps: number; nodes: OnnxNodeLike[] } | string {
  const sqrt = producedBy(view, value, 'Sqrt');
  const add = sqrt ? producedBy(view, sqrt.inputs[0], 'Add') : undefined;
  const ca = add ? constAndOther(view, add) : undefined;
  if (!sqrt || !ca || ca.c.data.length !== 1) return 'no Sqrt(mean + eps) in the denominator';
  const mean = producedBy(view, ca.other, 'ReduceMean');
  if (!mean || !lastAxis(view, mean)) return 'the variance is not a ReduceMean over the last axis';
  const sq = producedBy(view, mean.inputs[0], 'Pow', 'Mul');
  const isSquare = sq && (sq.opType === 'Pow' ? sq.inputs[0] === v && near(scalarOf(view, sq.inputs[1]!), 2, 1e-6) : sq.inputs[0] === v && sq.inputs[1] === v);
  if (!sq || !isSquare) return 'the variance is not a mean of squares of the centred input';
  return { eps: ca.c.data[0]!, nodes: [sqrt, add!, mean, sq] };
}

/** x·(1/S), x·Reciprocal(S) or x/S: returns x, S and the nodes. */
function divideBy(view: LiftView, value: string): { x: string; denom: string; nodes: OnnxNodeLike[] } | undefined {
  const div = producedBy(view, value, 'Div');
  if (div) {
    const one = scalarOf(view, div.inputs[0]!);
    return one === undefined ? { x: div.inputs[0]!, denom: div.inputs[1]!, nodes: [div] } : undefined;
  }
  const mul = producedBy(view, value, 'Mul');
  if (!mul) return undefined;
  for (const [x, r] of [[mul.inputs[0]!, mul.inputs[1]!], [mul.inputs[1]!, mul.inputs[0]!]] as const) {
    const recip = producedBy(view, r, 'Reciprocal');
    if (recip && recip.inputs[0]) return { x, denom: recip.inputs[0], nodes: [mul, recip] };
    const d = producedBy(view, r, 'Div');
    if (d && d.inputs[1] && near(scalarOf(view, d.inputs[0]!), 1, 0)) return { x, denom: d.inputs[1], nodes: [mul, d] };
  }
  return undefined;
}

/** Add(Mul(normed, w), b): the affine tail of a decomposed LayerNorm. */
const layerNormDecomposed: LiftRule = {
  name: 'layernorm-decomposed',
  anchors: ['Add'],
  match(node, view) {
    const bias = constAndOther(view, node);
    const scale = bias ? producedBy(view, bias.other, 'Mul') : undefined;
    const weight = scale ? constAndOther(view, scale) : undefined;
    if (!bias || !scale || !weight) return null;
    const div = divideBy(view, weight.other);
    const sub = div ? producedBy(view, div.x, 'Sub') : undefined;
    if (!div || !sub) return null;
    const mean = producedBy(view, sub.inputs[1], 'ReduceMean');
    const x = sub.inputs[0]!;
    if (!mean || mean.inputs[0] !== x || !lastAxis(view, mean)) return miss('x − mean(x) is not centred by a ReduceMean of x over the last axis');
    const rms = rootMeanSquare(view, div.denom, div.x);
    if (typeof rms === 'string') return miss(`LayerNorm-like Sub/Div/Mul/Add: ${rms}`);
    const D = weight.c.data.length;
    if (bias.c.data.length !== D) return miss(`LayerNorm weight has ${D} values, bias ${bias.c.data.length}`);
    return lifted({
      op: 'LayerNorm', inputs: [x], outputs: [node.outputs[0]!], attrs: { eps: rms.eps },
      weights: { weight: { ...weight.c, dims: [D] }, bias: { ...bias.c, dims: [D] } }, covers: [node, scale, ...div.nodes, sub, mean, ...rms.nodes],
    });
  },
};

/** Mul(w, x / sqrt(mean(x²) + eps)): a decomposed RMSNorm (HF LlamaRMSNorm). */
const rmsNormDecomposed: LiftRule = {
  name: 'rmsnorm-decomposed',
  anchors: ['Mul'],
  match(node, view) {
    const weight = constAndOther(view, node);
    if (!weight || weight.c.kind !== 'float') return null;
    const div = divideBy(view, weight.other);
    if (!div) return null;
    const rms = rootMeanSquare(view, div.denom, div.x);
    if (typeof rms === 'string') return miss(`RMSNorm-like Mul/Div: ${rms}`);
    const D = weight.c.data.length;
    return lifted({
      op: 'RMSNorm', inputs: [div.x], outputs: [node.outputs[0]!], attrs: { eps: rms.eps },
      weights: { weight: { ...weight.c, dims: [D] } }, covers: [node, ...div.nodes, ...rms.nodes],
    });
  },
};

/** The LayerNormalization op (opset ≥ 17) over the last axis. */
const layerNormOp: LiftRule = {
  name: 'layernorm-op',
  anchors: ['LayerNormalization'],
  match(node, view) {
    const [x, s, b] = node.inputs;
    const scale = s ? view.constant(s) : undefined;
    const bias = b ? view.constant(b) : undefined;
    if (!x || !scale || (b && !bias)) return miss('LayerNormalization whose scale or bias is not constant');
    if (intAttr(node, 'axis', -1) !== -1) return miss(`LayerNormalization over axis ${intAttr(node, 'axis', -1)}: only the last axis (-1) is lifted`);
    if (node.outputs.slice(1).some((o) => o !== '' && (view.consumers(o).length > 0 || view.isOutput(o)))) return miss('LayerNormalization whose Mean / InvStdDev outputs are used: the IR LayerNorm gives only Y');
    const eps = node.attrs.get('epsilon');
    const D = scale.data.length;
    const zero = { kind: 'float' as const, dims: [D], data: new Float32Array(D) };
    return lifted({
      op: 'LayerNorm', inputs: [x], outputs: [node.outputs[0]!], attrs: { eps: typeof eps === 'number' ? eps : 1e-5 },
      weights: { weight: { ...scale, dims: [D] }, bias: bias ? { ...bias, dims: [D] } : zero }, covers: [node],
    });
  },
};

export const NORM_LIFT_RULES: readonly LiftRule[] = [layerNormOp, layerNormDecomposed, rmsNormDecomposed];
