// The event reference's synapses: integer weights as the bundle ships them (synapses.bin via model.onnx), accumulated event by event.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import onnxProto from 'onnx-proto';
import { SnnError } from '../errors/index.js';
import { decodeTensor } from '../import/onnx/tensor.js';
import { PLANE_BITS } from '../ops/synapse.js';

const { onnx } = onnxProto;
const { FLOAT, INT8, INT16 } = onnx.TensorProto.DataType;

/** One Linear's integer synapse as shipped: weights [in, out] row-major, per-output scale s_j. */
export interface ShippedSynapse {
  readonly weights: Int8Array | Int16Array;
  readonly scale: Float32Array;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/**
 * The integer synapses a bundle ships, keyed by Linear node id, as model.onnx references them: the
 * weights as INT8 planes `<node>.synapse.plane0` (and `.plane1`: w = plane0 + 64·plane1, bundle format 3)
 * or one INT8/INT16 tensor `<node>.synapse.weight` (format 2), [in, out], and `<node>.synapse.scale`
 * float32; stored once in synapses.bin as external data (a location inside the bundle folder), or inline
 * in older bundles. The reference reads the weights as shipped.
 */
export function readShippedSynapses(modelPath: string): Map<string, ShippedSynapse> {
  const model = onnx.ModelProto.decode(readFileSync(modelPath));
  const dir = dirname(modelPath);
  const byName = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const out = new Map<string, ShippedSynapse>();
  const damaged = (node: string, what: string) => new SnnError('BUNDLE_INVALID', { message: `integer synapse ${node} ${what} in model.onnx`, at: modelPath, hint: 'the bundle is damaged: convert the model again' });
  for (const [name, t] of byName) {
    const m = /^(.*)\.synapse\.(weight|plane0)$/.exec(name);
    if (!m) continue;
    const node = m[1]!;
    const planar = m[2] === 'plane0';
    const high = planar ? byName.get(`${node}.synapse.plane1`) : undefined;
    const scaleTensor = byName.get(`${node}.synapse.scale`);
    const types = planar ? [INT8] : [INT8, INT16];
    if (!scaleTensor || scaleTensor.dataType !== FLOAT || [t, ...(high ? [high] : [])].some((x) => !types.includes(x.dataType ?? -1) || x.dims?.length !== 2)) {
      throw damaged(node, `is incomplete (${planar ? 'INT8 [in, out] planes' : 'INT8/INT16 [in, out] weights'} and float32 scales expected)`);
    }
    // decodeTensor confines external data to the bundle folder and checks every byte range.
    const w = decodeTensor(t, dir, `${modelPath}: ${name}`);
    const scale = decodeTensor(scaleTensor, dir, `${modelPath}: ${node}.synapse.scale`);
    const [inFeatures, outFeatures] = w.dims as [number, number];
    if (scale.data.length !== outFeatures) throw damaged(node, `has ${scale.data.length} scales for ${outFeatures} outputs`);
    let weights: Int8Array | Int16Array;
    if (high) {
      const h = decodeTensor(high, dir, `${modelPath}: ${node}.synapse.plane1`);
      if (h.dims.join() !== w.dims.join()) throw damaged(node, `has planes of shapes [${w.dims.join(', ')}] and [${h.dims.join(', ')}]`);
      weights = Int16Array.from(w.data, (v, at) => v + h.data[at]! * 2 ** PLANE_BITS);
    } else {
      weights = t.dataType === INT16 ? Int16Array.from(w.data) : Int8Array.from(w.data);
    }
    out.set(node, { weights, scale: Float32Array.from(scale.data), inFeatures, outFeatures });
  }
  return out;
}

/** Spike planes [T, rows, width] (values −1, 0, +1), most significant step first. */
export interface SpikePlanes {
  readonly steps: number;
  readonly rows: number;
  readonly width: number;
  readonly data: Int8Array;
}

/**
 * y_j = s_j · acc_j + b_j, where acc_j collects w_ij·2^k for every event ±1 of input i at step t
 * (k = T−1−t), in the order the events arrive (step by step). acc is an exact integer (|acc| < 2^53);
 * the scale and bias are one float32 multiply and one float32 add per output. Returns the outputs
 * [rows, out] and the synaptic operations performed (one accumulate per event and target).
 */
export function accumulateEvents(planes: SpikePlanes, syn: ShippedSynapse, bias: Float32Array | null): { readonly output: Float32Array; readonly sops: number } {
  const { steps: T, rows: R, width: I } = planes;
  const O = syn.outFeatures;
  if (I !== syn.inFeatures) throw new SnnError('GRAPH_INVALID', { message: `synapse expects ${syn.inFeatures} inputs, got ${I}`, at: 'event reference' });
  const acc = new Float64Array(R * O);
  let sops = 0;
  const w = syn.weights;
  for (let t = 0; t < T; t++) {
    const weight = 2 ** (T - 1 - t);
    for (let r = 0; r < R; r++) {
      const plane = (t * R + r) * I;
      const row = r * O;
      for (let i = 0; i < I; i++) {
        const s = planes.data[plane + i]!;
        if (s === 0) continue;
        const dw = s * weight;
        const base = i * O;
        for (let j = 0; j < O; j++) acc[row + j]! += dw * w[base + j]!;
        sops += O;
      }
    }
  }
  const output = new Float32Array(R * O);
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < O; j++) {
      const scaled = Math.fround(acc[r * O + j]! * syn.scale[j]!);
      output[r * O + j] = bias ? Math.fround(scaled + bias[j]!) : scaled;
    }
  }
  return { output, sops };
}

/**
 * Rate code: y_t,j = s_j · acc_t,j + b_j at every step t, where acc_t,j collects ±w_ij once per spike of
 * input i at step t (a multi-level spike of value ±n arrives as n events), in the order the events
 * arrive. Returns the outputs [T, rows, out] and the synaptic operations performed (one accumulate per
 * event and target).
 */
export function accumulateRateEvents(planes: SpikePlanes, syn: ShippedSynapse, bias: Float32Array | null): { readonly output: Float32Array; readonly sops: number } {
  const { steps: T, rows: R, width: I } = planes;
  const O = syn.outFeatures;
  if (I !== syn.inFeatures) throw new SnnError('GRAPH_INVALID', { message: `synapse expects ${syn.inFeatures} inputs, got ${I}`, at: 'event reference' });
  const output = new Float32Array(T * R * O);
  const acc = new Float64Array(O);
  const w = syn.weights;
  let sops = 0;
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < R; r++) {
      acc.fill(0);
      const plane = (t * R + r) * I;
      for (let i = 0; i < I; i++) {
        const s = planes.data[plane + i]!;
        const sign = Math.sign(s);
        const base = i * O;
        for (let e = Math.abs(s); e > 0; e--) {
          for (let j = 0; j < O; j++) acc[j]! += sign * w[base + j]!;
          sops += O;
        }
      }
      const row = (t * R + r) * O;
      for (let j = 0; j < O; j++) {
        const scaled = Math.fround(acc[j]! * syn.scale[j]!);
        output[row + j] = bias ? Math.fround(scaled + bias[j]!) : scaled;
      }
    }
  }
  return { output, sops };
}
