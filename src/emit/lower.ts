// Lowers an IR graph to ONNX: the ANN form, or the spiking form with a leading time axis of T steps.
import type { Execution } from '../bundle/format.js';
import { SnnError } from '../errors/index.js';
import { INPUT_IDS, LOGITS, pastKey, pastValue } from '../ir/io.js';
import type { Dim, Graph, Node, Weight } from '../ir/types.js';
import { isOp, type LowerCtx, type Lowered, type OpDef, type SynapseRecord } from '../ops/op.js';
import { embedding, linear, lowerLinearRate, prepareSynapsePlans, type PreparedPlans } from '../ops/linear.js';
import { runningMean, temporalDifference } from '../ops/onnx-util.js';
import { getOp } from '../ops/registry.js';
import { OnnxBuilder, type ExternalRef, type PlaceDerived } from '../onnx/onnx-builder.js';
import { isNeuron } from '../ops/spiking.js';
import { sessionThreads } from '../runtime/session.js';
import { lowerDynamicInt8Linear, lowerInt8Linear, lowerQuantizer } from './w8a8.js';
import { emitSpikeCounts, SPIKE_COUNT_ROWS, spikeCountOutput } from './spike-counts.js';

export { EXECUTIONS, type Execution } from '../bundle/format.js';

export type WeightPlacement = { readonly inline: Float32Array } | { readonly external: ExternalRef };

/** Every weight as a reference to nothing: for a dry emission whose bytes are dropped (planSynapsesFor). */
const DRY_RUN_PLACEMENT: WeightPlacement = { external: { location: 'dry-run', offset: 0, length: 0 } };

/**
 * The synapse plans emitting `graph` with `opts` will need, made beforehand on the session threads
 * (prepareSynapsePlans: a dry emission lists them, nothing written); pass them to withSynapsePlans.
 */
export function planSynapsesFor(graph: Graph, opts: EmitOptions): Promise<PreparedPlans> {
  return prepareSynapsePlans(() => emitOnnx(graph, { ...opts, placeWeight: () => DRY_RUN_PLACEMENT, placeDerived: () => null }), sessionThreads());
}

export interface EmitOptions {
  readonly mode: 'ann' | 'snn';
  /**
   * How a spiking graph is executed: `steps` simulates every neuron step by step over a [T, B, S, D]
   * time axis (the reference); `closed` is the T-parallel form of the weighted code (no time axis:
   * neurons are their integer counts, spikes are derived from them when exposed). Default: `closed`
   * for the weighted code, `steps` for rate coding (whose running means have no closed form).
   */
  readonly execution?: Execution;
  /**
   * `w8a8`: instead of the SNN, the W8A8 integer ANN of the same spiking graph (emit/w8a8.ts): INT8
   * activations at the neuron sites with the same thresholds, INT8 weights per output channel.
   * `dynamic` (ANN mode): every Linear on the 8-bit GEMM, its input quantized per row as it comes
   * (emit/w8a8.ts lowerDynamicInt8Linear; the calibration sampler's form).
   */
  readonly quantized?: 'w8a8' | 'dynamic';
  /** Neurons without Round/Sign/Mod (for WebGPU; see LowerCtx.portable). Default false. */
  readonly portable?: boolean;
  /** Where each weight's bytes go: into the model, or referenced as external data. */
  readonly placeWeight: (weight: Weight) => WeightPlacement;
  /** Where tensors derived from the weights (synapse integers and scales) go; default: inline in the model. */
  readonly placeDerived?: PlaceDerived;
  /** IR values to expose as extra outputs `observe/<name>` (calibration observers). */
  readonly observe?: readonly string[];
  /**
   * Observed values come back reduced over positions: per channel the `k` largest of the call's rows (of
   * |x| for the values in `abs`), [min(k, rows), width], in no particular order: all that calibration's
   * per-channel statistics keep of them (calibrate/thresholds.ts), without every site's activations
   * crossing into this process.
   */
  readonly observeTop?: { readonly k: number; readonly abs: ReadonlySet<string> };
  /** Expose every neuron site's spike tensor as an output `spikes/<site>` ([T, B, S, D], integers). */
  readonly exposeSpikes?: boolean;
  /** Expose only the saturation tensors `saturation/<site>` (weighted code: which counts clipped), not the planes. */
  readonly exposeSaturation?: boolean;
  /**
   * The spike-counts form (the report): every site's spike planes are derived in the graph, but only
   * their per-channel sums come back, as `spikecounts/<site>` ([SPIKE_COUNT_ROWS, D]; spike-counts.ts),
   * so memory does not grow with sites × T × tokens. `planes` names sites whose planes (and saturation)
   * are exposed too (the raster). Without exposeSpikes, no other site's planes are outputs.
   */
  readonly spikeCounts?: { readonly planes?: readonly string[] };
  /**
   * Graph inputs that carry the time axis ([T, ...shape]; a rate-coded sub-graph fed timed values, as
   * the event reference's float segments are). Default: none.
   */
  readonly timedInputs?: readonly string[];
  /** Graph outputs left with their time axis when timed (no readout mean); listed in Emitted.timedOutputs. */
  readonly keepTimed?: readonly string[];
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * The calibration sampler (ANN mode, one token per row per call; calibrate/sample.ts): past K/V are the
   * caller's buffers of `slots` positions (keys [B, KVH, hd, slots], values [B, KVH, slots, hd]), the mask
   * is [B, slots + 1] (filled slots, then the new token), and instead of logits the graph draws the next
   * token: `token` [B] (int64) is the first id whose cumulative softmax(logits / temperature) exceeds
   * `uniform` [B] (in [0, 1)) times the total; `present.*` are the new token's K/V [B, KVH, 1, hd].
   * `embeddingsFed`: the token embedding's rows come in as `token_embeds` ([B, 1, D]: input_ids' shape and
   * the width) instead of a Gather from the table (SAMPLER_EMBEDS; `input_ids` stays declared, unused).
   */
  readonly sampler?: { readonly temperature: number; readonly embeddingsFed?: boolean };
  /**
   * Emit the model outputs (logits, present K/V); default true. Without them only observed values remain,
   * and only the nodes they depend on are emitted (onnxruntime runs every node, an unused LM head too).
   * `'cache'`: the present K/V too, not the logits (observers fed a window in chunks over the KV cache).
   */
  readonly modelOutputs?: boolean | 'cache';
  /**
   * Every call feeds at least two tokens per row (whole windows: calibration's observers): attention's
   * products skip the row appended to keep a one-row product's sums those of a longer one (rowStableMatMul),
   * and its copy of the scores. Rows of two or more are stable as they are, so the values do not change.
   */
  readonly multiRow?: boolean;
}

export interface Emitted {
  readonly bytes: Uint8Array;
  /** Spike outputs by site, in graph order (present when exposeSpikes). */
  readonly spikeOutputs: readonly { readonly site: string; readonly output: string }[];
  /** Saturation outputs by site ([B, S, D]: clipped steps per train), present when exposeSpikes. */
  readonly saturationOutputs: readonly { readonly site: string; readonly output: string }[];
  /** Count outputs by site, in graph order (present with spikeCounts). */
  readonly countOutputs: readonly { readonly site: string; readonly output: string }[];
  readonly execution: Execution | null;
  /** Integer synapses of a weighted-code graph: bits and certified accumulator bound per Linear (float: none could be certified). */
  readonly synapses: readonly SynapseRecord[];
  readonly nodeCount: number;
  /** Graph outputs emitted with their time axis (only those named in keepTimed). */
  readonly timedOutputs: readonly string[];
}

/** Activations are [B, S, D] (rank 3); timed ones [T, B, S, D]. */
const TIMED_RANK = 4;

export function emitOnnx(graph: Graph, opts: EmitOptions): Emitted {
  const b = new OnnxBuilder(opts.placeDerived);
  const snn = opts.mode === 'snn';
  const T = snn ? graph.spiking?.timesteps ?? 0 : 1;
  if (snn && T < 1) throw new SnnError('GRAPH_INVALID', { message: 'graph has no spiking spec (timesteps); run a recipe first', at: 'emit' });
  const execution = snn ? resolveExecution(graph, opts.execution) : null;
  const names = new Map<string, string>();
  const timed = new Set<string>();
  const expanded = new Map<string, string>();
  const shared = new Map<string, string>();
  const placed = new Set<string>();
  const spikes: { site: string; tensor: string }[] = [];
  const saturation: { site: string; tensor: string }[] = [];
  const counts = new Map<string, { count: string; threshold: string; thresholdWeight: string }>();
  const synapses: SynapseRecord[] = [];
  const counted: { site: string; tensor: string }[] = [];
  const exposeSpikes = opts.exposeSpikes ?? false;
  const planesWanted = (site: string) => exposeSpikes || (opts.spikeCounts?.planes ?? []).includes(site);

  const timedIn = new Set(opts.timedInputs ?? []);
  const sampler = opts.sampler;
  if (opts.quantized === 'dynamic' && snn) throw new SnnError('GRAPH_INVALID', { message: 'the dynamic INT8 form is an ANN form (mode ann)', at: 'emit' });
  if (sampler && (snn || !(sampler.temperature > 0))) throw new SnnError('GRAPH_INVALID', { message: `the sampler form needs ANN mode and a temperature above 0 (got ${opts.mode}, ${sampler.temperature})`, at: 'emit' });
  // The sampler's past keys arrive transposed ([B, KVH, hd, slots]), its values as [B, KVH, slots, hd].
  const layers = Array.from({ length: graph.spec.numLayers }, (_, l) => l);
  const samplerKeys = new Set(sampler ? layers.map(pastKey) : []);
  const samplerValues = new Set(sampler ? layers.map(pastValue) : []);
  const samplerShape = (v: { readonly name: string; readonly shape: readonly Dim[] }): readonly Dim[] => {
    const { numKvHeads: kvh, headDim: hd } = graph.spec;
    return samplerKeys.has(v.name) ? ['batch', kvh, hd, 'slots'] : samplerValues.has(v.name) ? ['batch', kvh, 'slots', hd] : v.shape;
  };
  for (const v of graph.inputs) {
    b.input(v.name, v.dtype, timedIn.has(v.name) ? ['T', ...v.shape] : samplerShape(v));
    names.set(v.name, v.name);
    if (timedIn.has(v.name)) timed.add(v.name);
  }

  const onnxName = (ir: string): string => {
    const n = names.get(ir);
    if (n === undefined) throw new SnnError('GRAPH_INVALID', { message: `value ${ir} is used before it is defined`, at: 'emit' });
    return n;
  };
  const toTimed = (ir: string): string => {
    const n = onnxName(ir);
    if (timed.has(ir)) return n;
    let e = expanded.get(ir);
    if (!e) {
      e = b.op('Expand', [b.op('Unsqueeze', [n, b.ints([0])]), b.ints([T, 1, 1, 1])], {}, `time/${ir}`);
      expanded.set(ir, e);
    }
    return e;
  };
  const weightName = (node: Node, role: string): string => {
    const name = node.weights[role];
    const w = name === undefined ? undefined : graph.weights.get(name);
    if (!w) throw new SnnError('GRAPH_INVALID', { message: `weight role ${role} has no weight`, at: `node ${node.id} (${node.op})` });
    if (!placed.has(w.name)) {
      const p = opts.placeWeight(w);
      if ('inline' in p) b.initializer(w.name, w.shape, p.inline); else b.externalInitializer(w.name, w.shape, p.external);
      placed.add(w.name);
    }
    return w.name;
  };

  const modelOutputs = opts.modelOutputs ?? true;
  const kept = modelOutputs === true ? graph.outputs : modelOutputs === 'cache' ? graph.outputs.filter((o) => o.name !== LOGITS) : [];
  const needed = modelOutputs === true ? null : nodesFeeding(graph, [...(opts.observe ?? []), ...kept.map((o) => o.name)]);
  for (const node of graph.nodes) {
    if (needed && !needed.has(node)) continue;
    if (sampler?.embeddingsFed && isTokenEmbedding(node)) {
      const ids = graph.inputs.find((v) => v.name === INPUT_IDS)!;
      b.input(SAMPLER_EMBEDS, 'float32', [...ids.shape, tableOf(graph, node).shape[1]!]);
      names.set(node.outputs[0]!, SAMPLER_EMBEDS);
      continue;
    }
    const op = getOp(node.op, `node ${node.id}`);
    const ctx: LowerCtx = {
      b, node, spec: graph.spec, graph, timesteps: T,
      input: (i) => onnxName(node.inputs[i]!),
      isTimed: (i) => timed.has(node.inputs[i]!),
      timedInput: (i) => toTimed(node.inputs[i]!),
      weight: (role) => weightName(node, role),
      lead: (isTimed) => (isTimed ? 2 : 1),
      shared: (key, build) => { let v = shared.get(key); if (v === undefined) { v = build(); shared.set(key, v); } return v; },
      recordSpikes: (site, tensor) => { spikes.push({ site, tensor }); },
      exposeSpikes: exposeSpikes || opts.spikeCounts !== undefined,
      exposeSaturation: opts.exposeSaturation ?? false,
      portable: opts.portable ?? false,
      recordSaturation: (site, tensor) => { saturation.push({ site, tensor }); },
      countOf: (i) => counts.get(onnxName(node.inputs[i]!)) ?? null,
      recordCount: (output, count) => { counts.set(output, { count, threshold: weightName(node, 'threshold'), thresholdWeight: node.weights['threshold']! }); },
      recordSynapse: (record) => { synapses.push(record); },
      ...(sampler ? { sampler: true } : {}),
      ...(opts.multiRow ? { multiRow: true } : {}),
    };
    const weighted = graph.spiking?.code === 'weighted';
    // Weighted code: every op but the neurons acts once on integrated values (its closed form: the ANN
    // lowering, or integer synapses for a Linear fed by a neuron); the neurons run in closed form, or
    // step by step (`steps`, the reference).
    const int8 = opts.quantized === 'w8a8' ? (isNeuron(node) ? lowerQuantizer(ctx) : isOp(node, linear) ? lowerInt8Linear(ctx) : null)
      : opts.quantized === 'dynamic' && isOp(node, linear) ? lowerDynamicInt8Linear(ctx) : null;
    const lowered = int8 ? int8
      : execution === 'steps' && !weighted ? (isOp(node, linear) ? lowerLinearRate(ctx) : null) ?? lowerSpiking(op, ctx)
      : execution === 'steps' && isNeuron(node) && op.snn.kind === 'custom' ? op.snn.lower(ctx)
        : execution !== null && op.closed ? op.closed(ctx)
          : { outputs: op.lowerAnn(ctx), timed: node.outputs.map(() => false) };
    node.outputs.forEach((out, k) => {
      names.set(out, lowered.outputs[k]!);
      if (lowered.timed[k]) timed.add(out);
    });
    // Counted right after the neuron, so onnxruntime frees its planes before the next site makes its own.
    if (opts.spikeCounts !== undefined) for (const s of spikes.slice(counted.length)) counted.push({ site: s.site, tensor: emitSpikeCounts(b, s.tensor, saturation.find((x) => x.site === s.site)?.tensor, `spikecounts/${s.site}`) });
  }

  const timedOutputs: string[] = [];
  for (const out of kept) {
    let n = onnxName(out.name);
    const keep = timed.has(out.name) && (opts.keepTimed ?? []).includes(out.name);
    if (timed.has(out.name) && !keep) n = b.op('ReduceMean', [n], { axes: [0], keepdims: 0 }, 'readout');
    if (keep) timedOutputs.push(out.name);
    if (sampler && out.name === LOGITS) {
      drawToken(b, n, sampler.temperature, graph.spec.vocabSize);
      continue;
    }
    b.add('Identity', [n], {}, { outputs: [out.name], scope: 'output' });
    b.output(out.name, out.dtype, keep ? ['T', ...out.shape] : out.shape);
  }
  for (const ir of opts.observe ?? []) {
    const out = `observe/${ir}`;
    if (opts.observeTop) {
      observeTop(b, onnxName(ir), out, opts.observeTop.k, opts.observeTop.abs.has(ir));
      continue;
    }
    b.add('Identity', [onnxName(ir)], {}, { outputs: [out], scope: 'observe' });
    b.output(out, 'float32', timed.has(ir) ? ['T', 'batch', 'seq', 'width'] : ['batch', 'seq', 'width']);
  }
  const expose = (list: readonly { site: string; tensor: string }[], prefix: string, shape: readonly string[]) => list.map(({ site, tensor }) => {
    const output = `${prefix}/${site}`;
    b.add('Identity', [tensor], {}, { outputs: [output], scope: prefix });
    b.output(output, 'float32', shape);
    return { site, output };
  });
  const spikeOutputs = expose(spikes.filter((s) => planesWanted(s.site)), 'spikes', ['T', 'batch', 'seq', 'width']);
  const saturationOutputs = expose(saturation.filter((s) => planesWanted(s.site) || (opts.exposeSaturation ?? false)), 'saturation', ['batch', 'seq', 'width']);
  const countOutputs = counted.map(({ site, tensor }) => {
    const output = spikeCountOutput(site);
    b.add('Identity', [tensor], {}, { outputs: [output], scope: 'spikecounts' });
    b.output(output, 'float32', [SPIKE_COUNT_ROWS.length, 'width']);
    return { site, output };
  });
  return { bytes: b.toBytes(snn ? 'snnconvert-snn' : 'snnconvert-ann', opts.metadata), spikeOutputs, saturationOutputs, countOutputs, execution, synapses, nodeCount: b.nodeCount, timedOutputs };
}

/** The nodes `values` depend on (each value's producer, and theirs, back to the graph inputs). */
function nodesFeeding(graph: Graph, values: readonly string[]): Set<Node> {
  const wanted = new Set(values);
  const needed = new Set<Node>();
  for (const node of [...graph.nodes].reverse()) {
    if (!node.outputs.some((o) => wanted.has(o))) continue;
    needed.add(node);
    for (const i of node.inputs) wanted.add(i);
  }
  return needed;
}

/** The sampler form's token embedding rows, when the caller feeds them (EmitOptions.sampler.embeddingsFed). */
export const SAMPLER_EMBEDS = 'token_embeds';

/** The node looking up the input ids' rows of the token embedding table. */
export function isTokenEmbedding(node: Node): boolean {
  return isOp(node, embedding) && node.inputs[0] === INPUT_IDS;
}

/** The table weight of an Embedding node. */
export function tableOf(graph: Graph, node: Node): Weight {
  const w = graph.weights.get(node.weights['table'] ?? '');
  if (!w || w.shape.length !== 2) throw new SnnError('GRAPH_INVALID', { message: 'an Embedding has no [rows, width] table', at: `node ${node.id}` });
  return w;
}

/** Input and output of the sampler form's draw (EmitOptions.sampler). */
export const SAMPLER_UNIFORM = 'uniform';
export const SAMPLER_TOKEN = 'token';

/** Ids per block of the sampler's two-level draw: the cumulative sums run over the block totals, then one block. */
const DRAW_BLOCK = 256;

/**
 * Inverse-CDF sampling of p = softmax(logits / temperature) with u = `uniform`: the first id whose
 * cumulative p exceeds u · Σp. In two levels, so no cumulative sum runs over the whole vocabulary (a
 * CumSum of 64 rows × 50 257 ids cost more than the attention of a short step): block j is the first
 * whose cumulative block total exceeds u · Σp, then id i the first in it whose cumulative p exceeds what
 * is left (cumulative sums only grow, so the ids at or below a target are counted instead of searched).
 */
function drawToken(b: OnnxBuilder, logits: string, temperature: number, vocab: number): void {
  b.input(SAMPLER_UNIFORM, 'float32', ['batch']);
  const blocks = Math.ceil(vocab / DRAW_BLOCK);
  const op = (type: string, inputs: string[], attrs: Record<string, number> = {}) => b.op(type, inputs, attrs, 'draw');
  const count = (sums: string, target: string, axes: number[], top: number) => op('Min', [op('ReduceSum', [op('Cast', [op('LessOrEqual', [sums, target])], { to: 1 }), b.ints(axes)], { keepdims: 1 }), b.scalar(top)]);
  const flat = op('Reshape', [temperature === 1 ? logits : op('Div', [logits, b.scalar(temperature)]), b.ints([-1, vocab])]);
  const probs = op('Softmax', [flat], { axis: -1 });
  // The last block is filled with zeros by a Concat: onnxruntime's Pad copied [B, vocab] element by element
  // (3.3 ms of a 97 ms distilgpt2-shaped step of 64 rows; 8.7 ms of a 160 ms SmolLM2-135M-shaped one).
  const fill = blocks * DRAW_BLOCK - vocab;
  const rowsOfZeros = (): string => op('Expand', [b.constant({ dtype: 'float32', dims: [1, fill], values: new Array<number>(fill).fill(0) }), op('Concat', [op('Slice', [op('Shape', [probs]), b.ints([0]), b.ints([1])]), b.ints([fill])], { axis: 0 })]);
  const padded = fill === 0 ? probs : op('Concat', [probs, rowsOfZeros()], { axis: 1 });
  const byBlock = op('Reshape', [padded, b.ints([-1, blocks, DRAW_BLOCK])]);
  const totals = op('ReduceSum', [byBlock, b.ints([2])], { keepdims: 0 });
  const cumTotals = op('CumSum', [totals, b.constant({ dtype: 'int64', dims: [], values: [1] })]);
  const target = op('Mul', [op('Slice', [cumTotals, b.ints([blocks - 1]), b.ints([blocks]), b.ints([1])]), op('Reshape', [SAMPLER_UNIFORM, b.ints([-1, 1])])]);
  const block = op('Cast', [count(cumTotals, target, [1], blocks - 1)], { to: 7 });
  const before = op('Sub', [op('GatherElements', [cumTotals, block], { axis: 1 }), op('GatherElements', [totals, block], { axis: 1 })]);
  const rows = op('Expand', [op('Unsqueeze', [block, b.ints([2])]), b.ints([1, 1, DRAW_BLOCK])]);
  const inBlock = op('CumSum', [op('GatherElements', [byBlock, rows], { axis: 1 }), b.constant({ dtype: 'int64', dims: [], values: [2] })]);
  const left = op('Unsqueeze', [op('Sub', [target, before]), b.ints([2])]);
  const id = op('Add', [op('Mul', [op('Cast', [block], { to: 1 }), b.scalar(DRAW_BLOCK)]), op('Reshape', [count(inBlock, left, [1, 2], DRAW_BLOCK - 1), b.ints([-1, 1])])]);
  b.add('Cast', [op('Reshape', [op('Min', [id, b.scalar(vocab - 1)]), b.ints([-1])])], { to: 7 }, { outputs: [SAMPLER_TOKEN], scope: 'draw' });
  b.output(SAMPLER_TOKEN, 'int64', ['batch']);
}

/** The execution form of a spiking graph: `closed` needs the weighted code. */
export function resolveExecution(graph: Graph, wanted: Execution | undefined): Execution {
  const code = graph.spiking?.code ?? 'rate';
  const execution = wanted ?? (code === 'weighted' ? 'closed' : 'steps');
  if (execution === 'closed' && code !== 'weighted') {
    throw new SnnError('OPTION_INVALID', { message: 'the closed (T-parallel) form exists for the weighted code only; a rate-coded model runs step by step', at: '--simulate', hint: 'use --simulate steps, or convert with --code weighted' });
  }
  return execution;
}

/** One node in spiking form: linear ops run over the time axis; TD ops wrap their ANN lowering. */
function lowerSpiking(op: OpDef, ctx: LowerCtx): Lowered {
  const n = ctx.node.inputs.length;
  const anyTimed = Array.from({ length: n }, (_, i) => ctx.isTimed(i)).some(Boolean);
  switch (op.snn.kind) {
    case 'custom':
      return op.snn.lower(ctx);
    case 'unsupported':
      throw new SnnError('OP_UNSUPPORTED', { message: op.snn.why, at: `node ${ctx.node.id} (${op.name})`, hint: 'use a recipe (faithful, stac, exact): it runs the passes that give every op a spiking form' });
    case 'linear':
      return { outputs: op.lowerAnn(ctx), timed: ctx.node.outputs.map(() => anyTimed) };
    case 'td': {
      // A constant input makes the TD output constant and equal to f(x): stay untimed (exact, cheaper).
      if (!anyTimed) return { outputs: op.lowerAnn(ctx), timed: [false] };
      const T = ctx.timesteps;
      const means = Array.from({ length: n }, (_, i) => runningMean(ctx.b, ctx.timedInput(i), T, TIMED_RANK));
      const onMeans: LowerCtx = { ...ctx, input: (i) => means[i]!, isTimed: () => true, timedInput: (i) => means[i]! };
      const [f] = op.lowerAnn(onMeans);
      return { outputs: [temporalDifference(ctx.b, f!, T, TIMED_RANK)], timed: [true] };
    }
  }
}

/** `out` = the k largest of `value`'s rows per channel ([..., width] → [min(k, rows), width]; see EmitOptions.observeTop). */
function observeTop(b: OnnxBuilder, value: string, out: string, k: number, abs: boolean): void {
  const rows = b.op('Flatten', [abs ? b.op('Abs', [value], {}, 'observe') : value], { axis: -1 }, 'observe');
  if (k === 1) {
    b.add('ReduceMax', [rows], { axes: [0], keepdims: 1 }, { outputs: [out], scope: 'observe' });
  } else {
    const count = b.op('Min', [b.op('Slice', [b.op('Shape', [rows]), b.ints([0]), b.ints([1])], {}, 'observe'), b.ints([k])], {}, 'observe');
    // Along the last axis of the transposed rows: onnxruntime's TopK splits its work over the dimensions
    // before the axis, so along axis 0 it ran on one thread, reading each channel with a stride.
    const top = b.fresh('observe');
    b.add('TopK', [b.op('Transpose', [rows], { perm: [1, 0] }, 'observe'), count], { axis: 1, largest: 1, sorted: 0 }, { outputs: [top, b.fresh('observe')], scope: 'observe' });
    b.add('Transpose', [top], { perm: [1, 0] }, { outputs: [out], scope: 'observe' });
  }
  b.output(out, 'float32', ['top', 'width']);
}
