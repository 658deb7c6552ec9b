// The weighted code's runtime (closed, T-parallel model.onnx) against its step-by-step reference simulation
// (`simulate: 'steps'`, emitted from graph.json) on real held-out text of both shipped models: same spikes,
// same logits, bit for bit (the neurons' integers are exact in float32; every other op is the same).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert, DEFAULT_TIMESTEPS } from '../../src/convert.js';
import { isSnnError } from '../../src/errors/index.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { windowInput } from '../../src/runtime/windows.js';
import { GPT2_DIR, LLAMA_DIR, tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const HELDOUT = [...readFileSync(join(GPT2_DIR, 'heldout.txt'))];

describe.each([['gpt2', GPT2_DIR], ['llama', LLAMA_DIR]])('%s, default conversion (weighted code)', (_name, dir) => {
  let closed: Bundle;
  let steps: Bundle;
  beforeAll(async () => {
    const { bundlePath, code, timesteps } = await convert(dir, { out: join(tempDir('snn-closed-'), 'm.snn') });
    expect(code).toBe('weighted');
    expect(timesteps).toBe(DEFAULT_TIMESTEPS.weighted);
    closed = await loadBundle(bundlePath);
    steps = await loadBundle(bundlePath, { simulate: 'steps' });
  });
  afterAll(async () => { await closed?.release(); await steps?.release(); });

  it('model.onnx has no node per step: under 8 extra nodes per neuron site and 24 per integer synapse over the ANN (a step-by-step neuron needs ≥ 5 per step)', () => {
    const graph = (file: string) => onnx.ModelProto.decode(readFileSync(join(closed.path, file))).graph!;
    const sites = closed.meta.neurons.length;
    // The integer GEMM's operands are cut into 8-bit digits and planes and summed back: a fixed few nodes per synapse, none per step.
    const synapses = graph('model.onnx').initializer!.filter((t) => t.name!.endsWith('.synapse.scale')).length;
    expect(synapses).toBeGreaterThan(0);
    expect(closed.timesteps).toBe(DEFAULT_TIMESTEPS.weighted);
    expect(graph('model.onnx').node!.length - graph('ann.onnx').node!.length).toBeLessThan(8 * sites + 24 * synapses);
  });

  it('two held-out windows: identical spike tensors at every site and identical logits', async () => {
    const outputs = closed.spikeOutputs.map((s) => s.output);
    for (const start of [0, 40_000]) {
      const ids = HELDOUT.slice(start, start + 128);
      const a = await (await closed.session(false)).run(windowInput(ids, [0], ids.length), outputs);
      const b = await (await steps.session(false)).run(windowInput(ids, [0], ids.length), outputs);
      let events = 0;
      for (const o of outputs) {
        const x = a.extra.get(o)!, y = b.extra.get(o)!;
        expect(x.dims).toEqual([closed.timesteps, 1, 128, x.dims[3]]);
        expect(y.dims).toEqual(x.dims);
        let differ = 0;
        for (let i = 0; i < x.data.length; i++) {
          if (x.data[i] !== 0) events += 1;
          if (x.data[i] !== y.data[i]) differ += 1; // numeric: −0 (ONNX Sign/Round) equals 0
        }
        expect(differ, `${o}: digits that differ`).toBe(0);
      }
      expect(events).toBeGreaterThan(0);
      expect(Buffer.from(b.logits.buffer).equals(Buffer.from(a.logits.buffer))).toBe(true);
      // model.onnx itself (no spike planes: the runtime graph) gives the same logits bit for bit.
      const bare = await (await closed.session(false)).run(windowInput(ids, [0], ids.length));
      expect(Buffer.from(bare.logits.buffer).equals(Buffer.from(a.logits.buffer))).toBe(true);
    }
  });
});

describe('execution forms', () => {
  it('a rate-coded bundle has no closed form: --simulate closed is refused with a typed error', async () => {
    const { bundlePath } = await convert(GPT2_DIR, { code: 'rate', timesteps: 2, out: join(tempDir('snn-rate-'), 'r.snn') });
    const err = await loadBundle(bundlePath, { simulate: 'closed' }).then(() => null, (e: unknown) => e);
    expect(isSnnError(err) && err.code).toBe('OPTION_INVALID');
    expect((err as Error).message).toContain('weighted code only');
  });
  it('an unknown execution form is refused', async () => {
    const { bundlePath } = await convert(GPT2_DIR, { timesteps: 3, out: join(tempDir('snn-w-'), 'w.snn') });
    const err = await loadBundle(bundlePath, { simulate: 'parallel' as never }).then(() => null, (e: unknown) => e);
    expect(isSnnError(err) && err.code).toBe('OPTION_INVALID');
  });
});
