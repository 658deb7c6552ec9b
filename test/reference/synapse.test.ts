// Event-by-event integer synapse against a hand count; the shipped integers read from external data (synapses.bin).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { isSnnError } from '../../src/errors/index.js';
import { accumulateEvents, accumulateRateEvents, readShippedSynapses } from '../../src/reference/synapse.js';
import { tempDir } from '../helpers.js';

const { onnx } = onnxProto;

/** A model.onnx whose node `fc` ships W = [[1, 2], [3, −4]] (INT8) and s = [0.5, 0.25] in `location`, at offsets 0 and 64. */
function bundleWithExternal(location: string): string {
  const dir = tempDir('snn-syn-');
  const data = Buffer.alloc(72);
  Buffer.from(Int8Array.from([1, 2, 3, -4]).buffer).copy(data, 0);
  Buffer.from(Float32Array.from([0.5, 0.25]).buffer).copy(data, 64);
  writeFileSync(join(dir, 'synapses.bin'), data);
  const external = (offset: number, length: number) => [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(length) }];
  const { EXTERNAL } = onnx.TensorProto.DataLocation;
  const model = onnx.ModelProto.create({
    graph: {
      name: 'g',
      initializer: [
        { name: 'fc.synapse.weight', dataType: onnx.TensorProto.DataType.INT8, dims: [2, 2], dataLocation: EXTERNAL, externalData: external(0, 4) },
        { name: 'fc.synapse.scale', dataType: onnx.TensorProto.DataType.FLOAT, dims: [2], dataLocation: EXTERNAL, externalData: external(64, 8) },
      ],
    },
  });
  const path = join(dir, 'model.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

/** model.onnx with planar synapse weights (bundle format 3): plane0 and plane1 INT8 [2, 2] inline, w = plane0 + 64·plane1. */
function bundleWithPlanes(highDims: number[]): string {
  const dir = tempDir('snn-syn-');
  const { INT8, FLOAT } = onnx.TensorProto.DataType;
  const bytes = (a: Int8Array | Float32Array) => new Uint8Array(a.buffer);
  const model = onnx.ModelProto.create({
    graph: {
      name: 'g',
      initializer: [
        { name: 'fc.synapse.plane0', dataType: INT8, dims: [2, 2], rawData: bytes(Int8Array.from([0, 63, 5, 1])) },
        { name: 'fc.synapse.plane1', dataType: INT8, dims: highDims, rawData: bytes(Int8Array.from([-32, 31, 0, -1])) },
        { name: 'fc.synapse.scale', dataType: FLOAT, dims: [2], rawData: bytes(Float32Array.from([0.5, 0.25])) },
      ],
    },
  });
  const path = join(dir, 'model.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

describe('event synapse', () => {
  it('adds w·2^k per event, then scales and biases once; counts one operation per event and target', () => {
    // T=2, one row, 2 inputs → 2 outputs, W = [[1, 2], [3, −4]] ([in, out]).
    // Events: input 0 fires +1 at t=0 (weight 2) and −1 at t=1 (weight 1); input 1 fires +1 at t=1.
    // acc = 2·[1, 2] − [1, 2] + [3, −4] = [4, −2]; × s = [0.5, 0.25] → [2, −0.5]; + b = [1, 1] → [3, 0.5].
    const planes = { steps: 2, rows: 1, width: 2, data: Int8Array.from([1, 0, -1, 1]) };
    const syn = { weights: Int8Array.from([1, 2, 3, -4]), scale: Float32Array.from([0.5, 0.25]), inFeatures: 2, outFeatures: 2 };
    const { output, sops } = accumulateEvents(planes, syn, Float32Array.from([1, 1]));
    expect([...output]).toEqual([3, 0.5]);
    expect(sops).toBe(6);
  });

  it('rate code: adds ±w once per spike at each step (a spike of 2 is two events), scales and biases every step', () => {
    // T=2, one row, W = [[1, 2], [3, −4]]. Step 0: input 0 sends 2, input 1 sends −1; step 1: input 1 sends +1.
    // acc_0 = 2·[1, 2] − [3, −4] = [−1, 8] → × s = [0.5, 0.25] → [−0.5, 2] → + b = [1, 1] → [0.5, 3].
    // acc_1 = [3, −4] → [1.5, −1] → [2.5, 0]. Events 2 + 1 + 1 = 4, each to 2 targets: 8 operations.
    const planes = { steps: 2, rows: 1, width: 2, data: Int8Array.from([2, -1, 0, 1]) };
    const syn = { weights: Int8Array.from([1, 2, 3, -4]), scale: Float32Array.from([0.5, 0.25]), inFeatures: 2, outFeatures: 2 };
    const { output, sops } = accumulateRateEvents(planes, syn, Float32Array.from([1, 1]));
    expect([...output]).toEqual([0.5, 3, 2.5, 0]);
    expect(sops).toBe(8);
    // No bias, two rows, one step: each row sums its own events.
    const two = accumulateRateEvents({ steps: 1, rows: 2, width: 2, data: Int8Array.from([1, 0, 0, -1]) }, syn, null);
    expect([...two.output]).toEqual([0.5, 0.5, -1.5, 1]);
    expect(two.sops).toBe(4);
  });

  it('reads the integers and scales model.onnx references in synapses.bin', () => {
    const syn = readShippedSynapses(bundleWithExternal('synapses.bin')).get('fc')!;
    expect([...syn.weights]).toEqual([1, 2, 3, -4]);
    expect(syn.weights).toBeInstanceOf(Int8Array);
    expect([...syn.scale]).toEqual([0.5, 0.25]);
    expect([syn.inFeatures, syn.outFeatures]).toEqual([2, 2]);
  });

  it('reads format 3 planes as w = plane0 + 64·plane1, the 12-bit extremes included', () => {
    const syn = readShippedSynapses(bundleWithPlanes([2, 2])).get('fc')!;
    expect([...syn.weights]).toEqual([-2048, 2047, 5, -63]);
    expect([syn.inFeatures, syn.outFeatures]).toEqual([2, 2]);
    let err: unknown = null;
    try { readShippedSynapses(bundleWithPlanes([4, 1])); } catch (e) { err = e; }
    expect(isSnnError(err) && err.code).toBe('BUNDLE_INVALID');
    expect((err as Error).message).toContain('planes of shapes [2, 2] and [4, 1]');
  });

  it('refuses external data outside the bundle folder with a typed error', () => {
    const path = bundleWithExternal('../synapses.bin');
    let err: unknown = null;
    try { readShippedSynapses(path); } catch (e) { err = e; }
    expect(isSnnError(err) && err.code).toBe('ONNX_EXTERNAL_DATA');
    expect((err as Error).message).toContain('outside');
  });
});
