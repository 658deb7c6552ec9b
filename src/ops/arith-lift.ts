// ONNX patterns that lift to the elementwise and structural IR ops: Add, Mul of activations; Split; Embedding (Gather from a table).
import { constAndOther, intAttr, intsAttr, lifted, miss, producedBy, type Const, type LiftRule } from './lift.js';

const bothActivations = (op: 'Add' | 'Mul'): LiftRule => ({
  name: `${op.toLowerCase()}-activations`,
  anchors: [op],
  match(node, view) {
    const [a, b] = node.inputs;
    if (!a || !b || !view.isActivation(a) || !view.isActivation(b)) return null;
    return lifted({ op, inputs: [a, b], outputs: [node.outputs[0]!], attrs: {}, weights: {}, covers: [node] });
  },
});

/** Split of the last axis into constant sizes (input since opset 13, or equal parts). */
const split: LiftRule = {
  name: 'split-last-axis',
  anchors: ['Split'],
  match(node, view) {
    const x = node.inputs[0];
    if (!x || !view.isActivation(x)) return null;
    const sizesConst = node.inputs[1] ? view.constant(node.inputs[1]) : undefined;
    const sizes = sizesConst ? [...sizesConst.data] : intsAttr(node, 'split');
    const axis = intAttr(node, 'axis', 0);
    if (!sizes) return miss('Split into equal parts of an unknown size (give the split sizes)');
    if (axis !== -1 && axis !== 2) return miss(`Split on axis ${axis}: only the hidden (last) axis is lifted`);
    return lifted({ op: 'Split', inputs: [x], outputs: node.outputs, attrs: { sizes }, weights: {}, covers: [node] });
  },
};

/**
 * Gather(table, ids) with a constant 2-D float table and axis 0: an embedding lookup. Gather(table,
 * ids + c) for a constant c ≥ 0 (OPT's learned positions, c = 2) is the lookup in the table from row c on.
 */
const embedding: LiftRule = {
  name: 'embedding-gather',
  anchors: ['Gather'],
  match(node, view) {
    const [t, ids] = node.inputs;
    const table = t ? view.constant(t) : undefined;
    if (!table || !ids || table.kind !== 'float' || table.dims.length !== 2) return null;
    if (intAttr(node, 'axis', 0) !== 0) return miss('Gather from a weight table on an axis other than 0');
    if (view.isInput(ids)) return lifted({ op: 'Embedding', inputs: [ids], outputs: [node.outputs[0]!], attrs: {}, weights: { table }, covers: [node] });
    const add = producedBy(view, ids, 'Add');
    const offset = add ? constAndOther(view, add) : undefined;
    const c = offset?.c.data.length === 1 ? offset.c.data[0]! : undefined;
    if (!add || !offset || !view.isInput(offset.other) || c === undefined || !Number.isInteger(c) || c < 0 || c >= table.dims[0]!) {
      return miss(`Gather from a weight table indexed by "${ids}", not by a graph input (input_ids / position_ids) or a graph input plus a constant offset`);
    }
    const width = table.dims[1]!;
    const rows: Const = { kind: 'float', dims: [table.dims[0]! - c, width], data: table.data.slice(c * width) };
    return lifted({ op: 'Embedding', inputs: [offset.other], outputs: [node.outputs[0]!], attrs: {}, weights: { table: rows }, covers: [node, add] });
  },
};

export const ARITH_LIFT_RULES: readonly LiftRule[] = [bothActivations('Add'), bothActivations('Mul'), split, embedding];
