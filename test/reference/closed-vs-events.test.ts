// The event-driven reference (src/reference: membranes, thresholds, event-by-event integer synapses) against
// the closed form (model.onnx) on real held-out text of both shipped models and both codes: same spikes and
// logits bit for bit, and the synaptic operations it performs equal the report's SOP count.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { isSnnError } from '../../src/errors/index.js';
import { countOps } from '../../src/report/op-costs.js';
import { EventSession } from '../../src/reference/session.js';
import { loadBundle, type Bundle } from '../../src/runtime/model.js';
import { loadEventBundle } from '../../src/reference/load.js';
import { windowInput } from '../../src/runtime/windows.js';
import { GPT2_DIR, LLAMA_DIR, tempDir } from '../helpers.js';

describe.each([['gpt2', GPT2_DIR], ['llama', LLAMA_DIR]])('%s, default conversion (weighted code)', (_name, dir) => {
  const heldout = [...readFileSync(join(dir, 'heldout.txt'))];
  let closed: Bundle;
  let events: Bundle;
  beforeAll(async () => {
    const { bundlePath } = await convert(dir, { out: join(tempDir('snn-events-'), 'm.snn') });
    closed = await loadBundle(bundlePath);
    events = await loadEventBundle(bundlePath);
  });
  afterAll(async () => { await closed?.release(); await events?.release(); });

  it('two held-out windows: identical spike planes at every site, identical logits, SOPs performed = the report\'s count', async () => {
    const outputs = closed.spikeOutputs.map((s) => s.output);
    const sim = (await events.session(false)) as EventSession;
    expect(sim).toBeInstanceOf(EventSession);
    for (const start of [0, 40_000]) {
      const ids = heldout.slice(start, start + 128);
      const before = new Map(sim.sops);
      const { spikesPerToken, spikes, logits } = await compareWindow(closed, sim, ids, outputs);
      expect(spikes).toBeGreaterThan(0);
      expect(logits).toBe(true);
      expectSopsAsReported(closed, sim, before, ids.length, spikesPerToken);
    }
  });

  it('decodes through the cache like the closed form: 16 tokens fed one by one after a 32-token prompt give the same logits', async () => {
    const ids = heldout.slice(1000, 1048);
    const [x, y] = [await decodeLogits(closed, ids, 32), await decodeLogits(events, ids, 32)];
    expect(y.length).toBe(x.length);
    x.forEach((l, i) => expect(Buffer.from(y[i]!.buffer).equals(Buffer.from(l.buffer)), `call ${i}`).toBe(true));
  });
});

/**
 * One window through the closed form and the reference: every site's spike planes must agree value for value
 * (numeric: the −0 of ONNX Sign/Round equals 0). Returns the spikes per token of each neuron's output (for the
 * SOP rule), the spikes and multi-level spikes (|s| > 1) counted, and whether the logits agree bit for bit.
 */
async function compareWindow(closed: Bundle, sim: EventSession, ids: readonly number[], outputs: readonly string[]): Promise<{ spikesPerToken: Map<string, number>; spikes: number; multiLevel: number; logits: boolean }> {
  const a = await (await closed.session(false)).run(windowInput(ids, [0], ids.length), outputs);
  const b = await sim.run(windowInput(ids, [0], ids.length), outputs);
  const spikesPerToken = new Map<string, number>();
  let total = 0, multiLevel = 0;
  for (const s of closed.spikeOutputs) {
    const x = a.extra.get(s.output)!, y = b.extra.get(s.output)!;
    expect(y.dims).toEqual(x.dims);
    let differ = 0, spikes = 0;
    for (let i = 0; i < x.data.length; i++) {
      if (x.data[i] !== y.data[i]) differ += 1;
      spikes += Math.abs(x.data[i]!);
      if (Math.abs(x.data[i]!) > 1) multiLevel += 1;
    }
    expect(differ, `${s.site}: spike values that differ`).toBe(0);
    const neuron = closed.contents.graph.nodes.find((n) => n.op === 'Neuron' && n.attrs['site'] === s.site)!;
    spikesPerToken.set(neuron.outputs[0]!, spikes / ids.length);
    total += spikes;
  }
  return { spikesPerToken, spikes: total, multiLevel, logits: Buffer.from(b.logits.buffer).equals(Buffer.from(a.logits.buffer)) };
}

/** Logits of a prompt of `prompt` tokens, then of each later token fed alone through the cache. */
async function decodeLogits(b: Bundle, ids: readonly number[], prompt: number): Promise<Float32Array[]> {
  const s = await b.session(false);
  const first = await s.run(windowInput(ids.slice(0, prompt), [0], prompt));
  const logits = [first.logits];
  let cache = first.present;
  for (let i = prompt; i < ids.length; i++) {
    const out = await s.run({ batch: 1, seq: 1, ids: BigInt64Array.from([BigInt(ids[i]!)]), mask: new BigInt64Array(i + 1).fill(1n), positions: BigInt64Array.from([BigInt(i)]), past: i, cache });
    logits.push(out.logits);
    cache = out.present;
  }
  return logits;
}

/** The report's rule (spikes × fan-out) on the closed form's spikes equals the operations the reference performed since `before`. */
function expectSopsAsReported(closed: Bundle, sim: EventSession, before: ReadonlyMap<string, number>, tokens: number, spikesPerToken: ReadonlyMap<string, number>): void {
  const counted = countOps(closed.contents.graph, { window: tokens, spikesPerToken: (v) => spikesPerToken.get(v) ?? 0 });
  const reportSops = counted.reduce((acc, r) => acc + r.snn.sops, 0) * tokens;
  const performed = [...sim.sops].reduce((acc, [node, n]) => acc + n - (before.get(node) ?? 0), 0);
  expect(performed).toBeGreaterThan(0);
  expect(performed).toBe(Math.round(reportSops));
}

// Rate code: model.onnx is the step-by-step graph (the only form), with its spike planes; the reference
// integrates every step's current into membranes (multi-level at the gpt2 sites ln_1 and mlp.act) and
// adds integer weights once per spike. SOPs: the Linears' accumulates, and one accumulate per spike
// into the running sums of attention and the readout, as the report counts them.
describe.each([['gpt2', GPT2_DIR, 'ln_1=2,mlp.act=2'], ['llama', LLAMA_DIR, undefined]])('%s, rate code (T=6)', (_name, dir, levels) => {
  const heldout = [...readFileSync(join(dir, 'heldout.txt'))];
  let closed: Bundle;
  let events: Bundle;
  beforeAll(async () => {
    const { bundlePath } = await convert(dir, { code: 'rate', timesteps: 6, ...(levels ? { levels } : {}), calibration: { samples: 8, length: 64 }, out: join(tempDir('snn-rate-events-'), 'r.snn') });
    closed = await loadBundle(bundlePath);
    events = await loadEventBundle(bundlePath);
  });
  afterAll(async () => { await closed?.release(); await events?.release(); });

  it('two held-out windows: identical spike planes at every site, identical logits, SOPs performed = the report\'s count', async () => {
    expect(closed.contents.graph.spiking?.code).toBe('rate');
    const outputs = closed.spikeOutputs.map((s) => s.output);
    const sim = (await events.session(false)) as EventSession;
    expect(sim).toBeInstanceOf(EventSession);
    let multi = 0;
    for (const start of [0, 40_000]) {
      const ids = heldout.slice(start, start + 64);
      const before = new Map(sim.sops);
      const { spikesPerToken, spikes: total, multiLevel, logits } = await compareWindow(closed, sim, ids, outputs);
      multi += multiLevel;
      expect(total).toBeGreaterThan(0);
      expect(logits).toBe(true);
      expectSopsAsReported(closed, sim, before, ids.length, spikesPerToken);
    }
    if (levels) expect(multi, 'multi-level spikes (|s| > 1) exercised').toBeGreaterThan(0);
  });

  it('decodes through the cache like the step graph: 8 tokens fed one by one after a 24-token prompt give the same logits', async () => {
    const ids = heldout.slice(2000, 2032);
    const [x, y] = [await decodeLogits(closed, ids, 24), await decodeLogits(events, ids, 24)];
    expect(y.length).toBe(9);
    x.forEach((l, i) => expect(Buffer.from(y[i]!.buffer).equals(Buffer.from(l.buffer)), `call ${i}`).toBe(true));
  });
});

describe('--simulate events, bad input', () => {
  it('an unknown form is refused with the valid values listed', async () => {
    const { bundlePath } = await convert(GPT2_DIR, { timesteps: 3, calibration: { samples: 4, length: 32 }, out: join(tempDir('snn-w-'), 'w.snn') });
    const err = await loadBundle(bundlePath, { simulate: 'spiking' as never }).then(() => null, (e: unknown) => e);
    expect(isSnnError(err) && err.code).toBe('OPTION_INVALID');
    expect((err as Error).message).toContain('valid: closed, steps, events');
  });
});
