// Observers: run the ANN through onnxruntime with the neuron sites as extra outputs and set θ per channel.
import type { Graph, Node, Weight } from '../ir/types.js';
import { openGraphSession } from '../open/graph-session.js';
import { rowsInput } from '../runtime/windows.js';
import type { CalibrationData } from './data.js';
import { ChannelTopK, type ThresholdMode } from './thresholds.js';
import { neuronAttrs, neuronsOf } from '../ops/spiking.js';

export interface SiteThresholds {
  readonly site: string;
  readonly kind: string;
  readonly channels: number;
  readonly min: number;
  readonly mean: number;
  readonly max: number;
}

export interface CalibrationResult {
  readonly graph: Graph;
  readonly sites: readonly SiteThresholds[];
  readonly samples: number;
  readonly tokens: number;
}

export interface CalibrateOptions {
  readonly mode: ThresholdMode;
  readonly batch?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Observes every neuron's input on the ANN and returns the graph with calibrated thresholds (docs/design.md §3). */
export async function calibrateThresholds(graph: Graph, data: CalibrationData, opts: CalibrateOptions): Promise<CalibrationResult> {
  const neurons = neuronsOf(graph.nodes).map(({ node }) => node);
  if (neurons.length === 0) return { graph, sites: [], samples: data.samples.length, tokens: 0 };
  const observed = neurons.map((n) => n.inputs[0]!);
  const session = await openGraphSession(graph, 'ann', { observe: observed, observeOnly: true, lowMemory: true });
  const rows = data.samples.length * data.maxLength;
  const stats = neurons.map((n) => new ChannelTopK(graph.weights.get(n.weights['threshold']!)!.shape[0]!, opts.mode, rows));
  // One window per call: activations stay small next to the weights (distilgpt2-shaped conversion:
  // 2 per call 24.6 s / 772 MiB peak, 1 per call 15.8 s / 668 MiB).
  const per = opts.batch ?? 1;
  try {
    for (let i = 0; i < data.samples.length; i += per) {
      const chunk = data.samples.slice(i, i + per);
      const out = await session.observe(rowsInput(chunk), observed.map((v) => `observe/${v}`));
      neurons.forEach((n, j) => stats[j]!.add(out.get(`observe/${observed[j]}`)!, neuronAttrs(n)!.kind === 'SignedIF'));
      opts.onProgress?.(Math.min(i + per, data.samples.length), data.samples.length);
    }
  } finally {
    await session.release();
  }
  const weights = new Map(graph.weights);
  const sites = neurons.map((n, j) => {
    const theta = stats[j]!.thresholds();
    const name = n.weights['threshold']!;
    weights.set(name, { name, shape: [theta.length], source: { kind: 'data', data: theta } } satisfies Weight);
    return summarize(n, theta);
  });
  return { graph: { ...graph, weights }, sites, samples: data.samples.length, tokens: rows };
}

function summarize(n: Node, theta: Float32Array): SiteThresholds {
  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of theta) { min = Math.min(min, v); max = Math.max(max, v); sum += v; }
  const { site, kind } = neuronAttrs(n)!;
  return { site, kind, channels: theta.length, min, mean: sum / theta.length, max };
}
