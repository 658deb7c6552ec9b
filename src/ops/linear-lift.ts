// ONNX patterns that lift to Linear: MatMul(x, W) [+ bias], Gemm. Beside linear.ts, which owns the op.
import { constAndOther, intAttr, lifted, miss, producedBy, type LiftRule, type LiftView, type OnnxNodeLike } from './lift.js';

/** MatMul(x, W) with W a 2-D constant: weight in [in, out] layout. */
function matmulParts(view: LiftView, mm: OnnxNodeLike) {
  const [x, w] = mm.inputs;
  const weight = w ? view.constant(w) : undefined;
  if (!x || !weight) return undefined;
  if (weight.dims.length !== 2 || weight.kind !== 'float') return undefined;
  return { x, weight };
}

/** Add(MatMul(x, W), b) with b a 1-D constant of W's output size. */
const matmulAddBias: LiftRule = {
  name: 'linear-matmul-add',
  anchors: ['Add'],
  match(node, view) {
    const ca = constAndOther(view, node);
    if (!ca) return null;
    const mm = producedBy(view, ca.other, 'MatMul');
    if (!mm) return null;
    const parts = matmulParts(view, mm);
    if (!parts) return null;
    const out = parts.weight.dims[1]!;
    if (ca.c.dims.length !== 1 || ca.c.dims[0] !== out) return miss(`Add after MatMul: bias shape [${ca.c.dims.join(', ')}] is not [${out}]`);
    if (view.consumers(mm.outputs[0]!).length !== 1) return null;
    return lifted({
      op: 'Linear', inputs: [parts.x], outputs: [node.outputs[0]!],
      attrs: { inFeatures: parts.weight.dims[0]!, outFeatures: out, transposed: false },
      weights: { weight: parts.weight, bias: ca.c }, covers: [mm, node],
    });
  },
};

const matmul: LiftRule = {
  name: 'linear-matmul',
  anchors: ['MatMul'],
  match(node, view) {
    const parts = matmulParts(view, node);
    if (!parts) return view.constant(node.inputs[1] ?? '') ? miss('MatMul with a constant that is not a 2-D float matrix') : null;
    return lifted({
      op: 'Linear', inputs: [parts.x], outputs: [node.outputs[0]!],
      attrs: { inFeatures: parts.weight.dims[0]!, outFeatures: parts.weight.dims[1]!, transposed: false },
      weights: { weight: parts.weight }, covers: [node],
    });
  },
};

/** Gemm(x, B, C): alpha = beta = 1, no transA; transB gives the [out, in] layout. */
const gemm: LiftRule = {
  name: 'linear-gemm',
  anchors: ['Gemm'],
  match(node, view) {
    const [x, b, c] = node.inputs;
    const weight = b ? view.constant(b) : undefined;
    if (!x || !weight || weight.dims.length !== 2) return miss('Gemm whose B is not a constant 2-D matrix');
    const alpha = node.attrs.get('alpha'), beta = node.attrs.get('beta');
    if ((alpha !== undefined && alpha !== 1) || (beta !== undefined && beta !== 1) || intAttr(node, 'transA', 0) !== 0) {
      return miss('Gemm with alpha ≠ 1, beta ≠ 1 or transA');
    }
    const transposed = intAttr(node, 'transB', 0) === 1;
    const [inF, outF] = transposed ? [weight.dims[1]!, weight.dims[0]!] : [weight.dims[0]!, weight.dims[1]!];
    const bias = c ? view.constant(c) : undefined;
    if (c && (!bias || bias.data.length !== outF)) return miss(`Gemm bias is not a constant of ${outF} values`);
    return lifted({
      op: 'Linear', inputs: [x], outputs: [node.outputs[0]!],
      attrs: { inFeatures: inF, outFeatures: outF, transposed },
      weights: { weight, ...(bias ? { bias: { ...bias, dims: [outF] } } : {}) }, covers: [node],
    });
  },
};

export const LINEAR_LIFT_RULES: readonly LiftRule[] = [matmulAddBias, gemm, matmul];
