// Emits every ONNX form a bundle stores (see formsFor) into a folder; synapse integers and scales go once into synapses.bin.
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FILES, formsFor, type BundleForm } from '../../bundle/format.js';
import type { Graph, Weight } from '../../ir/types.js';
import { emitOnnx, planSynapsesFor, type EmitOptions, type Emitted, type WeightPlacement } from '../lower.js';
import { withSynapsePlans } from '../../ops/linear.js';
import type { ExternalRef } from '../../onnx/onnx-builder.js';

/** External data offsets are aligned like safetensors data, so a mapped tensor starts on a word boundary. */
const ALIGN = 64;

/**
 * Synapse integers and scales by tensor name, laid out back to back in synapses.bin. Every form derives
 * the same tensors from the same graph, so each name is stored once and every form references it.
 */
export class IntStore {
  private readonly tensors = new Map<string, { readonly data: Int8Array | Int16Array | Float32Array; readonly ref: ExternalRef }>();
  private end = 0;

  /** `location`: the file name the references give (beside the model). */
  constructor(private readonly location: string = FILES.synapses) {}

  readonly place = (name: string, data: Int8Array | Int16Array | Float32Array): ExternalRef => {
    const held = this.tensors.get(name);
    if (held) {
      if (held.data !== data && !bytesOf(held.data).equals(bytesOf(data))) throw new Error(`synapse ${name} differs between two forms of one graph`);
      return held.ref;
    }
    const offset = Math.ceil(this.end / ALIGN) * ALIGN;
    const ref = { location: this.location, offset, length: data.byteLength };
    this.tensors.set(name, { data, ref });
    this.end = offset + data.byteLength;
    return ref;
  };

  get empty(): boolean {
    return this.tensors.size === 0;
  }

  /** Writes every tensor at its offset, then lets go of them: a store is written once, and a session reading the file may outlive it. */
  write(path: string): void {
    const fd = openSync(path, 'wx');
    try {
      for (const { data, ref } of this.tensors.values()) writeSync(fd, bytesOf(data), 0, ref.length, ref.offset);
    } finally {
      closeSync(fd);
    }
    this.tensors.clear();
  }
}

function bytesOf(data: Int8Array | Int16Array | Float32Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export interface WrittenForms {
  readonly forms: readonly BundleForm[];
  /** What emitting model.onnx recorded (spike outputs, execution, integer synapses). */
  readonly main: Emitted;
  /** Files written into the folder: the forms, and synapses.bin when the graph has integer synapses. */
  readonly files: readonly string[];
}

/**
 * Writes the forms of the spiking `graph` into `dir`. Weights are external data (`placeWeight`), the
 * synapse integers too, so each extra form costs only its graph's bytes.
 */
export async function writeForms(dir: string, graph: Graph, placeWeight: (w: Weight) => WeightPlacement): Promise<WrittenForms> {
  const spiking = graph.spiking!;
  const forms = formsFor(spiking.code);
  const store = new IntStore();
  const options = (form: BundleForm): EmitOptions => ({
    mode: 'snn', placeWeight, placeDerived: store.place, execution: form.execution, exposeSpikes: form.spikes, portable: form.rounding === 'portable',
    metadata: { recipe: spiking.recipe, code: spiking.code, execution: form.execution, rounding: form.rounding },
  });
  // The synapses are quantized beforehand on every core, then one plan per Linear serves all forms
  // (withSynapsePlans): the forms differ in execution, not in weights.
  const prepared = await planSynapsesFor(graph, options(forms[0]!));
  const emitted = withSynapsePlans(() => forms.map((form) => {
    const e = emitOnnx(graph, options(form));
    writeFileAt(join(dir, form.file), e.bytes);
    return e;
  }), { prepared, record: true });
  const files = forms.map((f) => f.file);
  if (!store.empty) { store.write(join(dir, FILES.synapses)); files.push(FILES.synapses); }
  return { forms, main: emitted[0]!, files };
}

function writeFileAt(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'wx');
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}
