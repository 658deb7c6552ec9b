// Linear layers and embeddings: the weight multiplies, linear in their input and so exact over time.
import { weightData } from '../weights/weight-data.js';
import type { Node, Weight } from '../ir/types.js';
import type { LowerCtx, Lowered, OpDef } from './op.js';
import { boolAttr, numAttr, requireNumbers } from './op.js';
import { nafMax, unitCount } from './spike-code.js';
import { exactSign } from './exact-int.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { planSynapse, PLANE_BITS, type IntegerSynapse, type SynapseInput, type SynapsePlan } from './synapse.js';
import { builtWorker, WorkerPool } from '../util/worker-pool.js';

/** One synapse to plan on a worker thread (synapse-worker.ts). */
export type SynapseTask = SynapseInput;

const LINEAR = 'Linear';

/** A Linear's attributes: its feature counts, and whether W is stored [out, in] (`transposed`). */
export interface LinearAttrs {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly transposed: boolean;
}

/** The typed attributes of a Linear node, or null for any other op. */
export function linearAttrs(node: Node): LinearAttrs | null {
  if (node.op !== LINEAR) return null;
  return { inFeatures: numAttr(node, 'inFeatures'), outFeatures: numAttr(node, 'outFeatures'), transposed: boolAttr(node, 'transposed') };
}

/**
 * y = x·W (+ b). `transposed` means W is stored [out, in] (nn.Linear, tied LM heads): lowered as Gemm
 * with transB so the stored weight is used in place, never copied.
 */
function lowerLinearAnn(ctx: LowerCtx): string[] {
  const { b, node } = ctx;
  const hasBias = node.weights['bias'] !== undefined;
  const { inFeatures: inF, outFeatures: outF, transposed } = linearAttrs(node)!;
  if (!transposed) {
    const y = b.op('MatMul', [ctx.input(0), ctx.weight('weight')], {}, node.id);
    return [hasBias ? b.op('Add', [y, ctx.weight('bias')], {}, node.id) : y];
  }
  const x = ctx.input(0);
  const shape = b.op('Shape', [x], {}, node.id);
  const leadShape = b.op('Slice', [shape, b.ints([0]), b.ints([-1]), b.ints([0])], {}, node.id);
  const flat = b.op('Reshape', [x, b.ints([-1, inF])], {}, node.id);
  const gemmIn = hasBias ? [flat, ctx.weight('weight'), ctx.weight('bias')] : [flat, ctx.weight('weight')];
  const y = b.op('Gemm', gemmIn, { transB: 1 }, node.id);
  const outShape = b.op('Concat', [leadShape, b.ints([outF])], { axis: 0 }, node.id);
  return [b.op('Reshape', [y, outShape], {}, node.id)];
}

/**
 * Weighted code: a Linear fed by a neuron is an integer synapse (ops/synapse.ts): the neuron's count
 * times integer weights (an INT8/INT16 initializer cast to float: exact sums), then the per-output
 * scale and the bias. Any other Linear, or one whose bound cannot be certified, keeps float weights.
 */
function lowerLinearClosed(ctx: LowerCtx): Lowered {
  const { b, node } = ctx;
  const source = ctx.countOf(0);
  const M = nafMax(ctx.timesteps);
  const unitM = unitCount(ctx.timesteps, ctx.graph.spiking?.headroom ?? 0);
  const plan = source && ctx.graph.spiking?.code === 'weighted' ? synapsePlan(ctx, node, source.thresholdWeight, unitM, M) : null;
  if (!source || !plan) {
    if (!source) return { outputs: lowerLinearAnn(ctx), timed: [false] };
    // Float weights: the Linear reads u·q, rebuilt from the count (the neuron may hand out q alone).
    ctx.recordSynapse({ node: node.id, kind: 'float', bits: null, bound: null, groups: null });
    const value = b.op('Mul', [source.count, b.op('Div', [source.threshold, b.scalar(unitM)], {}, node.id)], {}, node.id);
    return { outputs: lowerLinearAnn({ ...ctx, input: () => value }), timed: [false] };
  }
  const { synapse, groups, chunkBits } = plan;
  ctx.recordSynapse({ node: node.id, kind: 'integer', bits: synapse.bits, bound: synapse.bound, groups });
  const accumulated = synapseProduct(ctx, source.count, synapse, { groups, chunkBits, maxCount: M });
  const scaled = b.op('Mul', [accumulated, `${node.id}.synapse.scale`], {}, node.id);
  return { outputs: [node.weights['bias'] !== undefined ? b.op('Add', [scaled, ctx.weight('bias')], {}, node.id) : scaled], timed: [false] };
}

type PlanCache = WeakMap<Weight, WeakMap<Weight, Map<string, SynapsePlan | null>>>;

/**
 * Plans already made while `withSynapsePlans` runs, by the weight and threshold objects they were made
 * from (a graph's weights are immutable values): every form of a bundle (six) quantizes each Linear
 * once. Outside it every emission quantizes anew, so no session keeps a second, integer copy of the
 * weights alive for as long as its graph lives.
 */
let activePlans: { readonly cache: PlanCache; readonly record: boolean } | null = null;

/** What a synapse plan is made from: the Linear's weight, its neuron's threshold, the unit's divisor and the largest count. */
interface PlanRequest {
  readonly weight: Weight;
  readonly theta: Weight;
  readonly attrs: LinearAttrs;
  readonly unitDivisor: number;
  readonly maxCount: number;
}

/** While prepareSynapsePlans's dry emission runs: the plans it would make, by keyOf. */
let collecting: Map<string, PlanRequest> | null = null;

/** Plans made beforehand (prepareSynapsePlans), installed by withSynapsePlans. */
export interface PreparedPlans {
  readonly plans: readonly { readonly request: PlanRequest; readonly plan: SynapsePlan | null }[];
}

export interface SynapsePlanScope {
  /** Plans made beforehand on worker threads (prepareSynapsePlans). */
  readonly prepared?: PreparedPlans;
  /** Record the plans in the kept store (keepSynapsePlans): a bundle's write, for its report. */
  readonly record?: boolean;
}

/** Runs `emit` (synchronous emissions of one graph) with one synapse plan per Linear shared by all of them. */
export function withSynapsePlans<R>(emit: () => R, scope: SynapsePlanScope = {}): R {
  const outer = activePlans;
  activePlans = { cache: outer?.cache ?? new WeakMap(), record: scope.record ?? false };
  try {
    for (const { request, plan } of scope.prepared?.plans ?? []) remember(request, plan);
    return emit();
  } finally {
    activePlans = outer;
  }
}

/** Stores a plan in the active cache and, when recording, in the kept store. */
function remember(r: PlanRequest, plan: SynapsePlan | null): SynapsePlan | null {
  const { cache, record } = activePlans!;
  let byTheta = cache.get(r.weight);
  if (!byTheta) cache.set(r.weight, byTheta = new WeakMap());
  let byKey = byTheta.get(r.theta);
  if (!byKey) byTheta.set(r.theta, byKey = new Map());
  byKey.set(keyOf(r), plan);
  if (record) keptPlans.getStore()?.put(namedKeyOf(r), r.weight, weightData(r.theta), plan);
  return plan;
}

function keyOf(r: PlanRequest): string {
  return `${r.unitDivisor}|${r.maxCount}|${r.attrs.inFeatures}|${r.attrs.outFeatures}|${r.attrs.transposed}`;
}

function namedKeyOf(r: PlanRequest): string {
  return `${r.weight.name}|${r.theta.name}|${keyOf(r)}`;
}

/**
 * Plans handed from a bundle's write to the next emission of the same graph read back from that bundle
 * (the report's spike pass at conversion; keepSynapsePlans). Keyed by weight and threshold names, each
 * checked against the thresholds' values and the weight's shape; each plan is given out once, so the
 * store holds no plan beyond the emission that takes it.
 */
export class KeptSynapsePlans {
  private readonly plans = new Map<string, { readonly theta: Float32Array; readonly shape: readonly number[]; readonly plan: SynapsePlan | null }>();

  /** Plans recorded so far and not yet taken. */
  get size(): number {
    return this.plans.size;
  }

  put(key: string, weight: Weight, theta: Float32Array, plan: SynapsePlan | null): void {
    this.plans.set(key, { theta, shape: weight.shape, plan });
  }

  /** Whether take would give a plan. */
  has(key: string, weight: Weight, theta: Float32Array): boolean {
    const kept = this.plans.get(key);
    return kept !== undefined && kept.shape.join() === weight.shape.join() && sameValues(kept.theta, theta);
  }

  /** The plan recorded under `key` for this weight's shape and these threshold values (removed), else undefined. */
  take(key: string, weight: Weight, theta: Float32Array): SynapsePlan | null | undefined {
    if (!this.has(key, weight, theta)) return undefined;
    const { plan } = this.plans.get(key)!;
    this.plans.delete(key);
    return plan;
  }
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const keptPlans = new AsyncLocalStorage<KeptSynapsePlans>();

/**
 * Runs `run` with `kept`: plans made inside it by a recording withSynapsePlans (a bundle's forms) are
 * kept there, and a later emission takes a kept plan instead of quantizing again (the conversion's
 * report emits the spike-counts form of the bundle it just wrote: same weights, thresholds and T).
 */
export function keepSynapsePlans<R>(kept: KeptSynapsePlans, run: () => Promise<R>): Promise<R> {
  return keptPlans.run(kept, run);
}

const PLAN_WORKER = builtWorker('ops/synapse-worker.js');

/**
 * Makes, on `threads` worker threads, the synapse plans the emission `dry` would make: `dry` runs once
 * with every synapse left float (nothing is quantized; its result is dropped), recording what it asks
 * for; withSynapsePlans(emit, { prepared }) then emits with them. The plans are planSynapse's bit for bit
 * (the same function, in another thread). Largest weights first, and no more weights in flight than the
 * two largest: the threads add at most the second largest synapse's working set to the largest's. With one
 * thread, or without the built worker module, nothing is prepared (the emission plans as it goes); when
 * the dry emission asks for nothing (every plan kept), no worker is started.
 */
export async function prepareSynapsePlans(dry: () => unknown, threads: number): Promise<PreparedPlans> {
  if (!WorkerPool.usable(PLAN_WORKER, threads)) return { plans: [] };
  const seen = new Map<string, PlanRequest>();
  collecting = seen;
  try { dry(); } finally { collecting = null; }
  const requests = [...seen.values()].sort((a, b) => size(b) - size(a));
  const pool = requests.length > 0 ? WorkerPool.open<SynapseTask, SynapsePlan | null>(PLAN_WORKER, Math.min(threads, requests.length)) : null;
  if (!pool) return { plans: [] };
  try {
    const limit = requests.slice(0, 2).reduce((a, r) => a + size(r), 0);
    let inFlight = 0;
    const waiting: (() => void)[] = [];
    return {
      plans: await Promise.all(requests.map(async (request) => {
        while (inFlight > 0 && inFlight + size(request) > limit) await new Promise<void>((go) => waiting.push(go));
        inFlight += size(request);
        try {
          const task = planTask(request);
          const moved = [task.unit.buffer as ArrayBuffer, ...(request.weight.source.kind === 'data' ? [] : [task.weight.buffer as ArrayBuffer])];
          return { request, plan: await pool.run(task, moved) };
        } finally {
          inFlight -= size(request);
          waiting.splice(0).forEach((go) => go());
        }
      })),
    };
  } finally {
    await pool.close();
  }
}

const size = (r: PlanRequest) => r.attrs.inFeatures * r.attrs.outFeatures;

function planTask(r: PlanRequest): SynapseTask {
  return { weight: weightData(r.weight), ...r.attrs, unit: Float32Array.from(weightData(r.theta), (t) => Math.fround(t / r.unitDivisor)), maxCount: r.maxCount };
}

/** The Linear's synapse plan for a neuron with threshold `threshold` and unit θ/`unitDivisor`, counts up to `maxCount`. */
function synapsePlan(ctx: LowerCtx, node: Node, threshold: string, unitDivisor: number, maxCount: number): SynapsePlan | null {
  const request: PlanRequest = { weight: ctx.graph.weights.get(node.weights['weight']!)!, theta: ctx.graph.weights.get(threshold)!, attrs: linearAttrs(node)!, unitDivisor, maxCount };
  const cached = activePlans?.cache.get(request.weight)?.get(request.theta);
  if (cached?.has(keyOf(request))) return cached.get(keyOf(request))!;
  const kept = keptPlans.getStore();
  if (collecting) {
    if (!kept?.has(namedKeyOf(request), request.weight, weightData(request.theta))) collecting.set(namedKeyOf(request), request);
    return null;
  }
  const taken = activePlans?.record ? undefined : kept?.take(namedKeyOf(request), request.weight, weightData(request.theta));
  const plan = taken !== undefined ? taken : planSynapse(planTask(request), maxCount);
  return activePlans ? remember(request, plan) : plan;
}

/**
 * Rate code: a Linear fed directly by a neuron's train is an integer synapse applied at every step:
 * the spikes s_t (integers in [−levels, levels]) times integer weights, the folded W·u with u = θ/levels
 * quantized per output channel (ops/synapse.ts; certified exact for counts up to `levels`), then the
 * per-output scale and the bias at every step: y_t = s_j·Σ_k w_kj·s_t,k + b_j. Null when the input is
 * not a neuron's train or no synapse can be certified whole (the caller keeps float weights).
 */
export function lowerLinearRate(ctx: LowerCtx): Lowered | null {
  const { b, node } = ctx;
  const source = ctx.countOf(0);
  const producer = ctx.graph.nodes.find((n) => n.outputs.includes(node.inputs[0]!));
  if (!source || !producer || !ctx.isTimed(0) || ctx.graph.spiking?.code === 'weighted') return null;
  const levels = numAttr(producer, 'levels');
  const plan = synapsePlan(ctx, node, source.thresholdWeight, levels, levels);
  if (!plan || plan.groups !== 1) {
    ctx.recordSynapse({ node: node.id, kind: 'float', bits: null, bound: null, groups: null });
    return null;
  }
  const { synapse } = plan;
  ctx.recordSynapse({ node: node.id, kind: 'integer', bits: synapse.bits, bound: synapse.bound, groups: 1 });
  const accumulated = synapseProduct(ctx, source.count, synapse, { groups: 1, chunkBits: 0, maxCount: levels });
  const scaled = b.op('Mul', [accumulated, `${node.id}.synapse.scale`], {}, node.id);
  return { outputs: [node.weights['bias'] !== undefined ? b.op('Add', [scaled, ctx.weight('bias')], {}, node.id) : scaled], timed: [true] };
}

/** How the count reaches the synapse: whole (groups 1, |q| ≤ maxCount) or in `groups` parts of `chunkBits` bits (SynapsePlan). */
interface CountParts {
  readonly groups: number;
  readonly chunkBits: number;
  readonly maxCount: number;
}

/**
 * Σ_k w_kj·q_k, exactly, for the Linear being lowered: its weight planes and scales become initializers
 * `<node>.synapse.plane<p>` (INT8 [in, out]) and `<node>.synapse.scale`, stored once for every form of a
 * bundle; native forms multiply on the 8-bit integer GEMM, portable ones in float32.
 */
function synapseProduct(ctx: LowerCtx, count: string, synapse: IntegerSynapse, parts: CountParts): string {
  const { b, node } = ctx;
  const name = `${node.id}.synapse`;
  const { inFeatures, outFeatures } = linearAttrs(node)!;
  const planes = synapse.planes.map((data, p) => {
    b.intInitializer(`${name}.plane${p}`, [inFeatures, outFeatures], data);
    return `${name}.plane${p}`;
  });
  b.initializer(`${name}.scale`, [synapse.scale.length], synapse.scale);
  return ctx.portable ? floatProduct(ctx, count, planes, parts) : integerProduct(ctx, count, planes, parts);
}

/**
 * The float kernel (portable forms: WebGPU has no 8-bit GEMM): w = plane0 + 2^6·plane1 rebuilt in float32
 * by DequantizeLinear at every run (onnxruntime does not fold it, so the device holds the 8-bit planes,
 * not a float copy: distilgpt2-shaped's portable form loads in 0.6 s and 87 MiB where folding Cast, Mul
 * and Add took 6.7 s and 904 MiB), exact sums below 2^24.
 */
function floatProduct(ctx: LowerCtx, count: string, planes: readonly string[], parts: CountParts): string {
  const { b, node } = ctx;
  const plane = (p: number) => b.op('DequantizeLinear', [planes[p]!, b.scalar(2 ** (PLANE_BITS * p))], {}, node.id);
  const weights = planes.length === 1 ? plane(0) : b.op('Add', [plane(0), plane(1)], {}, node.id);
  return parts.groups === 1 ? b.op('MatMul', [count, weights], {}, node.id) : groupedProduct(ctx, count, weights, parts.groups, parts.chunkBits);
}

const FLOAT = 1, UINT8 = 2;
/** The count's digits fed to the 8-bit GEMM: signed, |d| ≤ 2^7 − 1, as uint8 d + 128. */
const DIGIT_BITS = 7;
const COUNT_ZERO_POINT = 128;

/**
 * The integer kernel (every native form): the same exact sums on onnxruntime's 8-bit GEMM
 * (MatMulInteger, int32 accumulators), which reads half the bytes of the float kernel's weights and,
 * for the one-row products of decoding, runs 2–3× faster. Both operands are cut into 8-bit digits small
 * enough that no CPU kernel saturates: every weight plane is within ±63 and every count digit within
 * ±127 (uint8 with zero point 128), so |a·b + a'·b'| ≤ 2·255·63 < 2^15 even where a kernel adds byte
 * products pairwise into 16 bits (x86 AVX2's vpmaddubsw). The GEMM reads the stored planes as they are:
 * nothing is folded or copied at load but onnxruntime's packed layout.
 *
 * Each plan group's sum (certified < 2^24) is rebuilt from its digits' and planes' sums in int32 (each
 * weighted by its power of two, then added): int32 arithmetic is exact modulo
 * 2^32 and the sum lies below 2^24, so it is exact even were a partial sum to wrap. It is cast to float
 * exactly and the groups recombine in float32 as `groupedProduct` does: the outputs equal the float
 * kernel's bit for bit.
 */
function integerProduct(ctx: LowerCtx, count: string, planes: readonly string[], plan: CountParts): string {
  const { b, node } = ctx;
  const scope = node.id;
  const int32 = (v: number) => b.scalar(v, 'int32');
  // Bits [low, high) of |q| per digit, grouped as the plan's parts; the top digit of the top group takes what is left.
  const width = plan.groups === 1 ? Math.ceil(Math.log2(plan.maxCount + 1)) : plan.chunkBits;
  const digits: { group: number; shift: number; low: number; high: number | null }[] = [];
  for (let g = 0; g < plan.groups; g++) {
    for (let shift = 0; shift < width; shift += DIGIT_BITS) {
      const top = g === plan.groups - 1 && shift + DIGIT_BITS >= width;
      digits.push({ group: g, shift, low: g * width + shift, high: top ? null : g * width + Math.min(shift + DIGIT_BITS, width) });
    }
  }
  const rows = digits.length === 1 ? count : stack(ctx, countFields(ctx, count, digits));
  const a = b.op('Cast', [b.op('Add', [rows, b.scalar(COUNT_ZERO_POINT)], {}, scope)], { to: UINT8 }, scope);
  const zero = b.scalar(COUNT_ZERO_POINT, 'uint8');
  const product = (plane: string) => b.op('MatMulInteger', [a, plane, zero], {}, scope);
  // Plain elementwise int32 passes: measured faster here than contracting the digit blocks with an int32 MatMul or ReduceSum.
  const sums = planes.length === 1 ? product(planes[0]!) : b.op('Add', [product(planes[0]!), b.op('Mul', [product(planes[1]!), int32(2 ** PLANE_BITS)], {}, scope)], {}, scope);
  const perDigit = digits.length === 1 ? [sums] : unstack(ctx, sums, digits.length);
  const groupSums = Array.from({ length: plan.groups }, (_, g) => {
    const own = digits.flatMap((d, i) => (d.group === g ? [{ sum: perDigit[i]!, shift: d.shift }] : []));
    const exact = own.reduce((acc, { sum, shift }) => {
      const term = shift === 0 ? sum : b.op('Mul', [sum, int32(2 ** shift)], {}, scope);
      return acc === '' ? term : b.op('Add', [acc, term], {}, scope);
    }, '');
    return b.op('Cast', [exact], { to: FLOAT }, scope);
  });
  return recombineGroups(ctx, groupSums, plan.chunkBits);
}

/**
 * The signed bit fields sign(q)·(⌊|q|/2^low⌋ − 2^(high−low)·⌊|q|/2^high⌋) of the integer count q (the top
 * field, high null, keeps every bit from low up): exact in float32, each ⌊|q|/2^bit⌋ built once.
 */
function countFields(ctx: LowerCtx, count: string, fields: readonly { readonly low: number; readonly high: number | null }[]): string[] {
  const { b, node } = ctx;
  const magnitude = b.op('Abs', [count], {}, node.id);
  const sign = exactSign(b, count, ctx.portable, node.id);
  const shifted = new Map<number, string>([[0, magnitude]]);
  const above = (bit: number) => {
    if (!shifted.has(bit)) shifted.set(bit, b.op('Floor', [b.op('Mul', [magnitude, b.scalar(2 ** -bit)], {}, node.id)], {}, node.id));
    return shifted.get(bit)!;
  };
  return fields.map(({ low, high }) => {
    const field = high === null ? above(low) : b.op('Sub', [above(low), b.op('Mul', [above(high), b.scalar(2 ** (high - low))], {}, node.id)], {}, node.id);
    return b.op('Mul', [field, sign], {}, node.id);
  });
}

/** Σ_g 2^(c·g)·part_g in float32, in order: each part exact, one rounding per add (every kernel the same). */
function recombineGroups(ctx: LowerCtx, parts: readonly string[], chunkBits: number): string {
  const { b, node } = ctx;
  return parts.reduce((acc, p, g) => (g === 0 ? p : b.op('Add', [acc, b.op('Mul', [p, b.scalar(2 ** (chunkBits * g))], {}, node.id)], {}, node.id)), '');
}

/**
 * Σ_g 2^(c·g)·(q_g·W) for the parts q_g = sign(q)·(⌊|q|/2^(cg)⌋ mod 2^c): one MatMul over the parts
 * stacked on the batch axis (the weights are read once), each part's sums exact; the recombination is
 * elementwise, so it does not depend on shapes either.
 */
function groupedProduct(ctx: LowerCtx, count: string, weights: string, groups: number, chunkBits: number): string {
  const { b, node } = ctx;
  const parts = countFields(ctx, count, Array.from({ length: groups }, (_, g) => ({ low: chunkBits * g, high: g === groups - 1 ? null : chunkBits * (g + 1) })));
  const products = unstack(ctx, b.op('MatMul', [stack(ctx, parts), weights], {}, node.id), groups);
  return recombineGroups(ctx, products, chunkBits);
}

/**
 * Stacks same-shaped operands on a new leading axis ([k, ...shape]) for one GEMM over all of them;
 * unstack splits the product back. Stacking on a new axis, not concatenating on the batch axis, keeps
 * the symbolic batch and sequence dims through ONNX shape inference (a concatenated batch becomes an
 * unnamed dim, and so does every value downstream): onnxruntime's memory planner can only reuse a
 * buffer for a value of the same named shape, and scans every buffer it could not reuse at each
 * allocation, so one unnamed dim per layer made opening SmolLM2-135M-shaped's forms quadratic in its nodes.
 */
function stack(ctx: LowerCtx, parts: readonly string[]): string {
  const { b, node } = ctx;
  return b.op('Concat', parts.map((p) => b.op('Unsqueeze', [p, b.ints([0])], {}, node.id)), { axis: 0 }, node.id);
}

function unstack(ctx: LowerCtx, stacked: string, count: number): string[] {
  const { b, node } = ctx;
  return b.add('Split', [stacked], { axis: 0 }, { scope: node.id, count }).map((p) => b.op('Squeeze', [p, b.ints([0])], {}, node.id));
}

export const linear: OpDef = {
  name: LINEAR,
  doc: 'y = x·W + b; W is [in, out], or [out, in] when transposed',
  numInputs: 1,
  numOutputs: 1,
  weights: ['weight', 'bias?'],
  check: (node) => [...requireNumbers(node, ['inFeatures', 'outFeatures']), ...(typeof node.attrs['transposed'] === 'boolean' ? [] : ['attribute transposed must be a boolean'])],
  lowerAnn: lowerLinearAnn,
  snn: { kind: 'linear' },
  closed: lowerLinearClosed,
};

/** Token and position embeddings: a table lookup. In a spiking graph the row is the input current, constant over T. */
export const embedding: OpDef = {
  name: 'Embedding',
  doc: 'rows of a table looked up by integer ids',
  numInputs: 1,
  numOutputs: 1,
  weights: ['table'],
  check: () => [],
  lowerAnn: (ctx) => [ctx.b.op('Gather', [ctx.weight('table'), ctx.input(0)], { axis: 0 }, ctx.node.id)],
  snn: {
    kind: 'custom',
    // Untimed on purpose: consumers broadcast it over T (direct input encoding, x_t = x).
    lower: (ctx) => ({ outputs: [ctx.b.op('Gather', [ctx.weight('table'), ctx.input(0)], { axis: 0 }, ctx.node.id)], timed: [false] }),
  },
};
