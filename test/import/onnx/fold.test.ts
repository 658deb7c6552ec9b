// The reader's int64 handling and the folding of exporter shape arithmetic (Shape/Gather/Unsqueeze/Concat/Slice chains).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { foldConstants } from '../../../src/import/onnx/fold.js';
import { readOnnxGraph } from '../../../src/import/onnx/read.js';
import { tempDir } from '../../helpers.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

const int64Raw = (values: readonly bigint[]): Uint8Array => {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigInt64LE(v, 8 * i));
  return new Uint8Array(b);
};
const node = (opType: string, input: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = []) => ({ opType, input, output: [output], name: output, attribute });
const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });

function write(nodes: onnxProto.onnx.INodeProto[], initializer: onnxProto.onnx.ITensorProto[], outputs: string[]): string {
  const m = onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', node: nodes, initializer, input: [{ name: 'X' }], output: outputs.map((name) => ({ name })) },
  });
  const path = join(tempDir(), 'm.onnx');
  writeFileSync(path, onnx.ModelProto.encode(m).finish());
  return path;
}

describe('reading int64 safely', () => {
  it('keeps exact values up to 2^53 and clamps the INT64_MAX/MIN sentinels to the safe range', () => {
    const big = [2n ** 53n - 1n, -(2n ** 53n) + 1n, 9223372036854775807n, -9223372036854775808n, 42n];
    const path = write([node('Identity', ['X'], 'Y')], [{ name: 'c', dims: [5], dataType: T.INT64, rawData: int64Raw(big) }], ['Y']);
    const c = readOnnxGraph(path).initializers.get('c')!;
    expect(c.kind).toBe('int');
    expect([...c.data]).toEqual([2 ** 53 - 1, -(2 ** 53) + 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 42]);
  });
});

describe('folding shape arithmetic', () => {
  it('folds Shape → Gather → Unsqueeze → Concat of a static tensor, and a Slice to INT64_MAX', () => {
    const path = write([
      node('Shape', ['W'], 's'),
      node('Gather', ['s', 'idx'], 'd1', [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]),
      node('Unsqueeze', ['d1', 'zero'], 'd1v'),
      node('Concat', ['minus1', 'd1v'], 'shape', [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]),
      node('Slice', ['s', 'one', 'end'], 'tail'),
      node('Reshape', ['X', 'shape'], 'Y'),
    ], [
      { name: 'W', dims: [2, 3, 4], dataType: T.FLOAT, floatData: new Array(24).fill(0) },
      { name: 'idx', dims: [], dataType: T.INT64, rawData: int64Raw([1n]) },
      { name: 'one', dims: [1], dataType: T.INT64, rawData: int64Raw([1n]) },
      { name: 'zero', dims: [1], dataType: T.INT64, rawData: int64Raw([0n]) },
      { name: 'minus1', dims: [1], dataType: T.INT64, rawData: int64Raw([-1n]) },
      { name: 'end', dims: [1], dataType: T.INT64, rawData: int64Raw([9223372036854775807n]) },
    ], ['Y', 'tail']);
    const g = readOnnxGraph(path);
    const { consts, folded } = foldConstants(g);
    expect([...consts.get('shape')!.data]).toEqual([-1, 3]);
    expect([...consts.get('tail')!.data]).toEqual([3, 4]);
    // The Reshape of the activation X is not constant: it stays for lifting.
    expect(consts.has('Y')).toBe(false);
    expect([...folded].map((n) => n.opType).sort()).toEqual(['Concat', 'Gather', 'Shape', 'Slice', 'Unsqueeze']);
  });
});
