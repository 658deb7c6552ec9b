// Independent plain-JS references (float64), written from the papers and docs/design.md §2 — never from src/.

/** erf via erfc's Chebyshev fit (Numerical Recipes 2nd ed. §6.2, fractional error < 1.2e-7). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - erfc : erfc - 1;
}

/** GELU, exact form: x·Φ(x) (Hendrycks & Gimpel 2016). */
export const geluErf = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
/** GELU, tanh approximation (HF gelu_new). */
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
export const relu = (x: number): number => Math.max(x, 0);
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
export const silu = (x: number): number => x * sigmoid(x);

/** LayerNorm over consecutive rows of width `w.length` (biased variance, as torch.nn.LayerNorm). */
export function layerNorm(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, eps: number): number[] {
  const D = w.length;
  const out: number[] = [];
  for (let r = 0; r < x.length / D; r++) {
    const row = Array.from({ length: D }, (_, i) => x[r * D + i]!);
    const mean = row.reduce((a, v) => a + v, 0) / D;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
    const inv = 1 / Math.sqrt(variance + eps);
    row.forEach((v, i) => out.push((v - mean) * inv * w[i]! + b[i]!));
  }
  return out;
}

/** RMSNorm over consecutive rows (Zhang & Sennrich 2019): x / sqrt(mean(x²) + eps) · w. */
export function rmsNorm(x: ArrayLike<number>, w: ArrayLike<number>, eps: number): number[] {
  const D = w.length;
  const out: number[] = [];
  for (let r = 0; r < x.length / D; r++) {
    const row = Array.from({ length: D }, (_, i) => x[r * D + i]!);
    const inv = 1 / Math.sqrt(row.reduce((a, v) => a + v * v, 0) / D + eps);
    row.forEach((v, i) => out.push(v * inv * w[i]!));
  }
  return out;
}

export type NeuronKind = 'IF' | 'SignedIF';

export interface NeuronRun {
  /** The integer emitted at each step (number of spikes, signed for SignedIF). */
  readonly train: number[];
  /**
   * The smallest distance, in units of θ/levels, between the membrane and a firing boundary over all
   * steps. Where it is ~0 the design's `v ≥ θ` and a lowering's `v > θ` (or round-half-even) may differ.
   */
  readonly margin: number;
}

/**
 * One neuron's spike train, straight from docs/design.md §2, on the membrane v in input units (not rescaled).
 * A spike is worth `unit = θ/levels`; at most `levels` spikes per step (a multi-level neuron).
 * - IF: v₀ = unit/2; v ← v + x_t; while v ≥ unit (and fewer than `levels` fired): emit +1, v ← v − unit.
 * - SignedIF: v₀ = 0; v ← v + x_t; while v ≥ unit/2: emit +1, v ← v − unit; while v ≤ −unit/2: emit −1, v ← v + unit.
 * With levels = 1 these are the binary IF and ternary SignedIF of the design (docs/design.md §2) (θ/2 start, fire at θ or ±θ/2, soft reset).
 */
export function runNeuron(kind: NeuronKind, theta: number, levels: number, inputs: readonly number[]): NeuronRun {
  const unit = theta / levels;
  let v = kind === 'IF' ? unit / 2 : 0;
  let margin = Infinity;
  const train: number[] = [];
  for (const x of inputs) {
    v += x;
    for (let j = 1; j <= levels; j++) {
      const boundaries = kind === 'IF' ? [j] : [j - 0.5, -(j - 0.5)];
      for (const at of boundaries) margin = Math.min(margin, Math.abs(v / unit - at));
    }
    let s = 0;
    if (kind === 'IF') {
      while (s < levels && v >= unit) { s += 1; v -= unit; }
    } else {
      while (s < levels && v >= unit / 2) { s += 1; v -= unit; }
      while (s > -levels && v <= -unit / 2) { s -= 1; v += unit; }
    }
    train.push(s);
  }
  return { train, margin };
}

/** Mean-convention TD (docs/design.md §2): y_t = t·f(m_t) − (t−1)·f(m_{t−1}) with m_t the running mean of xs[0..t]. */
export function runningMeans(steps: readonly (readonly number[])[]): number[][] {
  const sum = new Array<number>(steps[0]!.length).fill(0);
  return steps.map((x, t) => x.map((v, i) => (sum[i]! += v) / (t + 1)));
}

export function temporalDifference(fOfMeans: readonly (readonly number[])[]): number[][] {
  return fOfMeans.map((f, t) => f.map((v, i) => (t + 1) * v - (t === 0 ? 0 : t * fOfMeans[t - 1]![i]!)));
}

/** HF rotate_half RoPE (Su et al. 2021) of one head vector at position `pos`. */
export function rope(x: readonly number[], pos: number, theta: number): number[] {
  const hd = x.length;
  const half = hd / 2;
  const out = [...x];
  for (let i = 0; i < half; i++) {
    const angle = pos / theta ** ((2 * i) / hd);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    out[i] = x[i]! * c - x[i + half]! * s;
    out[i + half] = x[i + half]! * c + x[i]! * s;
  }
  return out;
}

/** softmax(q·kᵢ/√hd) over the allowed keys, times V, for one query vector. */
export function attendOne(q: readonly number[], keys: readonly (readonly number[])[], values: readonly (readonly number[])[], allowed: readonly boolean[]): number[] {
  const hd = q.length;
  const scores = keys.map((k, i) => (allowed[i] ? k.reduce((a, v, c) => a + v * q[c]!, 0) / Math.sqrt(hd) : -Infinity));
  const m = Math.max(...scores);
  const e = scores.map((s) => (s === -Infinity ? 0 : Math.exp(s - m)));
  const z = e.reduce((a, v) => a + v, 0);
  return Array.from({ length: values[0]!.length }, (_, c) => values.reduce((a, v, i) => a + (e[i]! / z) * v[c]!, 0));
}
