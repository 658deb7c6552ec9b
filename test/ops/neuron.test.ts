// The Neuron lowering (IF / SignedIF, multi-level, per-channel θ) against a plain-JS loop written from docs/design.md §2.
//
// Boundary note: the design (docs/design.md §2) fires when v ≥ θ (IF) and at ±θ/2 (SignedIF); our lowering rounds a shifted
// membrane (ONNX Round is half-to-even), so it may fire strictly above. The two differ only when the
// membrane sits exactly on a boundary, so inputs here are kept away from boundaries: constant inputs
// are drawn with a margin ≥ 0.02 units, and for time-varying inputs elements closer than 1e-3 units
// to a boundary (float32 vs float64 noise) are skipped — and most elements must qualify.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ops/verify.js';
import { OP_SPEC, normals, output, rng, runGraph, uniforms, type Tensor } from '../harness/onnx-run.js';
import { runNeuron, type NeuronKind } from '../harness/reference.js';

const B = 2;
const S = 3;
const D = 6;
const N = B * S * D;
/** Per-channel thresholds (deliberately unequal). */
const THETA = Float32Array.from([0.5, 1, 2, 0.25, 3, 1.5]);
const thetaOf = (e: number): number => THETA[e % D]!;

interface NeuronGraphOptions {
  readonly kind: NeuronKind;
  readonly levels: number;
  readonly timesteps: number;
  /** Put a SignedIF neuron and a random Linear in front, so the neuron under test sees a time-varying input. */
  readonly timeVarying?: boolean;
}

/** x [B, S, D] → (optional: Neuron 'pre' → Linear 'mix') → Neuron 'n' → output 'n.out'. */
function neuronGraph(o: NeuronGraphOptions): Graph {
  const g = new GraphBuilder(OP_SPEC);
  let x = 'x';
  if (o.timeVarying) {
    g.addWeight({ name: 'pre.threshold', shape: [D], source: { kind: 'data', data: new Float32Array(D).fill(1.5) } });
    g.addWeight({ name: 'mix.weight', shape: [D, D], source: { kind: 'data', data: normals(D * D, 11, 0.6) } });
    g.addWeight({ name: 'mix.bias', shape: [D], source: { kind: 'data', data: normals(D, 12, 0.3) } });
    const pre = g.op('Neuron', 'pre', [x], { attrs: { kind: 'SignedIF', levels: 3, site: 'pre' }, weights: { threshold: 'pre.threshold' } });
    x = g.op('Linear', 'mix', [pre], { attrs: { inFeatures: D, outFeatures: D, transposed: false }, weights: { weight: 'mix.weight', bias: 'mix.bias' } });
  }
  g.addWeight({ name: 'n.threshold', shape: [D], source: { kind: 'data', data: THETA } });
  g.op('Neuron', 'n', [x], { attrs: { kind: o.kind, levels: o.levels, site: 'n' }, weights: { threshold: 'n.threshold' }, outputs: ['n.out'] });
  const graph = g.build([{ name: 'x', dtype: 'float32', shape: [B, S, D] }], [{ name: 'n.out', dtype: 'float32', shape: [B, S, D] }],
    { timesteps: o.timesteps, recipe: 'test', tdConvention: 'mean' });
  expect(verifyGraph(graph)).toEqual([]);
  return graph;
}

interface NeuronResult {
  /** The integers the neuron emitted, [T, B, S, D]. */
  readonly spikes: Tensor;
  /** Its output to the next layer per step, [T, B, S, D]. */
  readonly perStep: Tensor;
  /** The graph output: the mean over T. */
  readonly mean: Tensor;
  /** The neuron's input current per step [T, B, S, D] (time-varying graphs only). */
  readonly current: Tensor | null;
}

async function runNeuronGraph(o: NeuronGraphOptions, x: Float32Array): Promise<NeuronResult> {
  const out = await runGraph(neuronGraph(o), 'snn', { x: [x, [B, S, D]] }, { exposeSpikes: true, observe: o.timeVarying ? ['n.out', 'mix'] : ['n.out'] });
  return {
    spikes: output(out, 'spikes/n'),
    perStep: output(out, 'observe/n.out'),
    mean: output(out, 'n.out'),
    current: o.timeVarying ? output(out, 'observe/mix') : null,
  };
}

/** Element e's values over T from a [T, ...N] tensor (−0, which ONNX Round gives for small negatives, read as 0). */
const trainOf = (t: Tensor, e: number, T: number): number[] => Array.from({ length: T }, (_, s) => t.data[s * N + e]! + 0);

/** A constant input per element, drawn so that the design (docs/design.md §2) loop never comes within `minMargin` units of a boundary. */
function constantInputs(kind: NeuronKind, levels: number, T: number, lo: number, hi: number, seed: number, minMargin = 0.02): Float32Array {
  const u = rng(seed);
  return Float32Array.from({ length: N }, (_, e) => {
    const theta = thetaOf(e);
    for (;;) {
      const a = Math.fround(theta * (lo + (hi - lo) * u()));
      if (runNeuron(kind, theta, levels, new Array<number>(T).fill(a)).margin >= minMargin) return a;
    }
  });
}

/** The allowed spike values: {0..k} for IF, {−k..k} for SignedIF. */
function expectAllowedValues(spikes: Tensor, kind: NeuronKind, levels: number): void {
  const lo = kind === 'IF' ? 0 : -levels;
  for (const v of spikes.data) {
    expect(Number.isInteger(v)).toBe(true);
    expect(v).toBeGreaterThanOrEqual(lo);
    expect(v).toBeLessThanOrEqual(levels);
  }
}

/** Per element: the lowering's train equals the design (docs/design.md §2) loop's; its per-step output is s_t·θ/levels; the mean is θ·count/(levels·T). */
function expectMatchesReference(r: NeuronResult, kind: NeuronKind, levels: number, T: number, inputOf: (e: number) => number[]): { checked: number } {
  expect(r.spikes.dims).toEqual([T, B, S, D]);
  expect(r.perStep.dims).toEqual([T, B, S, D]);
  expect(r.mean.dims).toEqual([B, S, D]);
  expectAllowedValues(r.spikes, kind, levels);
  let checked = 0;
  for (let e = 0; e < N; e++) {
    const theta = thetaOf(e);
    const ref = runNeuron(kind, theta, levels, inputOf(e));
    if (ref.margin < 1e-3) continue;
    checked += 1;
    const got = trainOf(r.spikes, e, T);
    expect(got, `element ${e} (θ = ${theta})`).toEqual(ref.train);
    const unit = theta / levels;
    trainOf(r.perStep, e, T).forEach((y, t) => expect(y).toBeCloseTo(ref.train[t]! * unit, 6));
    const count = ref.train.reduce((a, s) => a + s, 0);
    expect(r.mean.data[e]).toBeCloseTo((unit * count) / T, 5);
  }
  return { checked };
}

describe('a constant input over T: trains equal the docs/design.md §2 loop, counts round to nearest', () => {
  const cases: readonly (readonly [NeuronKind, number, number, number])[] = [
    // kind, levels, input range in units of θ (lo, hi) — covering negative, in-range and saturating inputs
    ['IF', 1, -0.5, 1.5],
    ['SignedIF', 1, -1.5, 1.5],
    ['IF', 3, -0.5, 1.5],
    ['SignedIF', 2, -1.5, 1.5],
  ];
  for (const [kind, levels, lo, hi] of cases) {
    for (const T of [1, 2, 4, 7, 16]) {
      it(`${kind}, levels ${levels}, T = ${T}: identical trains, count = round(a·T·levels/θ) clipped to the neuron's range`, async () => {
        const x = constantInputs(kind, levels, T, lo, hi, 100 * T + levels);
        const r = await runNeuronGraph({ kind, levels, timesteps: T }, x);
        const { checked } = expectMatchesReference(r, kind, levels, T, (e) => new Array<number>(T).fill(x[e]!));
        expect(checked).toBe(N);
        // The closed form of docs/design.md §2, independent of the loop: count = round(a·T/unit), clipped.
        for (let e = 0; e < N; e++) {
          const unit = thetaOf(e) / levels;
          const max = levels * T;
          const expected = Math.min(max, Math.max(kind === 'IF' ? 0 : -max, Math.round((x[e]! * T) / unit))) + 0;
          const count = trainOf(r.spikes, e, T).reduce((a, s) => a + s, 0);
          expect(count, `element ${e}: a = ${x[e]}, θ = ${thetaOf(e)}`).toBe(expected);
          // The mean output approximates a with step θ/(levels·T) when a is in range.
          const a = x[e]!;
          const inRange = kind === 'IF' ? a >= 0 && a <= thetaOf(e) : Math.abs(a) <= thetaOf(e);
          if (inRange) expect(Math.abs(r.mean.data[e]! - a)).toBeLessThanOrEqual(unit / (2 * T) + 1e-6);
        }
      });
    }
  }
});

describe('saturation', () => {
  const T = 8;
  it('IF fires exactly one spike every step above θ, and never below 0', async () => {
    const x = Float32Array.from({ length: N }, (_, e) => (e % 2 === 0 ? 2.5 : -0.7) * thetaOf(e));
    const r = await runNeuronGraph({ kind: 'IF', levels: 1, timesteps: T }, x);
    for (let e = 0; e < N; e++) {
      expect(trainOf(r.spikes, e, T)).toEqual(new Array<number>(T).fill(e % 2 === 0 ? 1 : 0));
      expect(r.mean.data[e]).toBeCloseTo(e % 2 === 0 ? thetaOf(e) : 0, 6);
    }
  });

  it('SignedIF emits ±1 every step beyond ±θ; its output saturates at ±θ', async () => {
    const x = Float32Array.from({ length: N }, (_, e) => (e % 2 === 0 ? 3 : -1.7) * thetaOf(e));
    const r = await runNeuronGraph({ kind: 'SignedIF', levels: 1, timesteps: T }, x);
    for (let e = 0; e < N; e++) {
      const sign = e % 2 === 0 ? 1 : -1;
      expect(trainOf(r.spikes, e, T)).toEqual(new Array<number>(T).fill(sign));
      expect(r.mean.data[e]).toBeCloseTo(sign * thetaOf(e), 6);
    }
  });

  it('a multi-level neuron emits at most k per step (k units of θ/k = θ)', async () => {
    const x = Float32Array.from({ length: N }, (_, e) => (e % 2 === 0 ? 4 : -4) * thetaOf(e));
    const r = await runNeuronGraph({ kind: 'SignedIF', levels: 3, timesteps: T }, x);
    for (let e = 0; e < N; e++) expect(trainOf(r.spikes, e, T)).toEqual(new Array<number>(T).fill(e % 2 === 0 ? 3 : -3));
  });

  it('IF recovers after a saturating input: the excess kept in the membrane is spent later (soft reset)', async () => {
    // A constant input in [θ, 2θ] saturates every step; its count is then T, not round(a·T/θ).
    const x = Float32Array.from({ length: N }, (_, e) => 1.3 * thetaOf(e));
    const r = await runNeuronGraph({ kind: 'IF', levels: 1, timesteps: T }, x);
    for (let e = 0; e < N; e++) expect(trainOf(r.spikes, e, T).reduce((a, s) => a + s, 0)).toBe(T);
  });
});

describe('a time-varying input (neuron → linear → neuron under test): trains equal the docs/design.md §2 loop', () => {
  const cases: readonly (readonly [NeuronKind, number])[] = [['IF', 1], ['SignedIF', 1], ['IF', 2], ['SignedIF', 3]];
  for (const [kind, levels] of cases) {
    for (const T of [3, 8, 16]) {
      it(`${kind}, levels ${levels}, T = ${T}`, async () => {
        const x = uniforms(N, 7 * T + levels, -1.5, 1.5);
        const r = await runNeuronGraph({ kind, levels, timesteps: T, timeVarying: true }, x);
        const current = r.current!;
        expect(current.dims).toEqual([T, B, S, D]);
        // The input really varies over time for most elements (otherwise this repeats the constant case).
        let varying = 0;
        for (let e = 0; e < N; e++) if (new Set(trainOf(current, e, T)).size > 1) varying += 1;
        if (T > 1) expect(varying).toBeGreaterThan(N / 2);
        const { checked } = expectMatchesReference(r, kind, levels, T, (e) => trainOf(current, e, T));
        expect(checked).toBeGreaterThanOrEqual(Math.ceil(0.9 * N));
      });
    }
  }
});

describe('the ANN lowering and the spike outputs', () => {
  it('in the ANN a Neuron passes its input through unchanged (calibration observes it)', async () => {
    const x = normals(N, 3, 2);
    const out = await runGraph(neuronGraph({ kind: 'SignedIF', levels: 1, timesteps: 4 }), 'ann', { x: [x, [B, S, D]] });
    expect(Array.from(output(out, 'n.out').data)).toEqual(Array.from(x));
  });

  it('exposeSpikes adds one spikes/<site> output per neuron, [T, B, S, D], in graph order', async () => {
    const T = 5;
    const out = await runGraph(neuronGraph({ kind: 'SignedIF', levels: 1, timesteps: T, timeVarying: true }), 'snn', { x: [normals(N, 4), [B, S, D]] }, { exposeSpikes: true });
    expect([...out.keys()].filter((k) => k.startsWith('spikes/'))).toEqual(['spikes/pre', 'spikes/n']);
    expect(output(out, 'spikes/pre').dims).toEqual([T, B, S, D]);
    expectAllowedValues(output(out, 'spikes/pre'), 'SignedIF', 3);
  });

  it('without exposeSpikes the model has no spike outputs', async () => {
    const out = await runGraph(neuronGraph({ kind: 'IF', levels: 1, timesteps: 2 }), 'snn', { x: [normals(N, 5), [B, S, D]] });
    expect([...out.keys()]).toEqual(['n.out']);
  });
});

describe('TemporalMean', () => {
  /** x → Neuron → TemporalMean → out, so the readout's input varies over T. */
  function readoutGraph(T: number): Graph {
    const g = new GraphBuilder(OP_SPEC);
    g.addWeight({ name: 'n.threshold', shape: [D], source: { kind: 'data', data: THETA } });
    const n = g.op('Neuron', 'n', ['x'], { attrs: { kind: 'SignedIF', levels: 1, site: 'n' }, weights: { threshold: 'n.threshold' } });
    g.op('TemporalMean', 'mean', [n], { outputs: ['out'] });
    return g.build([{ name: 'x', dtype: 'float32', shape: [B, S, D] }], [{ name: 'out', dtype: 'float32', shape: [B, S, D] }], { timesteps: T, recipe: 'test', tdConvention: 'mean' });
  }

  it('is the mean over T of its spiking input (snn), and the identity in the ANN', async () => {
    const T = 6;
    const x = uniforms(N, 9, -2, 2);
    const snn = await runGraph(readoutGraph(T), 'snn', { x: [x, [B, S, D]] }, { observe: ['n'] });
    const steps = output(snn, 'observe/n');
    const out = output(snn, 'out');
    expect(out.dims).toEqual([B, S, D]);
    for (let e = 0; e < N; e++) expect(out.data[e]).toBeCloseTo(trainOf(steps, e, T).reduce((a, v) => a + v, 0) / T, 6);
    const ann = await runGraph(readoutGraph(T), 'ann', { x: [x, [B, S, D]] });
    expect(Array.from(output(ann, 'out').data)).toEqual(Array.from(x));
  });
});
