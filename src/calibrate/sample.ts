// Data-free calibration: windows of text sampled from the source ANN itself, seeded and recorded.
import { endianness } from 'node:os';
import { SnnError } from '../errors/index.js';
import type { Graph } from '../ir/types.js';
import { createRng, sampleToken, type Rng } from '../runtime/sampling.js';
import ort from 'onnxruntime-node';
import { isTokenEmbedding, SAMPLER_EMBEDS, SAMPLER_TOKEN, SAMPLER_UNIFORM, tableOf } from '../emit/lower.js';
import { ATTENTION_MASK, INPUT_IDS, POSITION_IDS, pastKey, pastValue, presentKey, presentValue } from '../ir/io.js';
import { openGraphSession, withEmittedModel } from '../open/graph-session.js';
import { createDeviceSession } from '../runtime/session.js';
import { samplingCacheBytes } from '../weights/memory.js';
import { fileTensor } from '../weights/weight-data.js';
import type { SamplerLinears } from '../options/values.js';
import { TensorRows, type StTensor } from '../weights/safetensors.js';
import type { CalibrationData } from './data.js';
import type { ThresholdObservers } from './observers.js';

export interface ModelSampleOptions {
  readonly samples: number;
  readonly length: number;
  readonly seed: number;
  /** The first token of every row: the model's BOS (or EOS, GPT-2's document separator), else 0. */
  readonly start: number;
  /** Sampling temperature (default 1: the model's own distribution). */
  readonly temperature?: number;
  /**
   * How documents (windows longer than SAMPLED_DOCUMENT_LENGTH) are drawn: `int8` (default) through the
   * ANN with every Linear on the 8-bit GEMM, each row's input quantized as it comes (SAMPLER_LINEARS);
   * `float` through the float ANN itself. Shorter windows are observed while sampled, so the float ANN,
   * whose values the observers keep, draws them either way.
   */
  readonly linears?: SamplerLinears;
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Calibrate while sampling: each step's neuron inputs (the new token of every row) go to these
   * observers, and one last step observes the last sampled token, so no second pass over the windows
   * is needed. `graph` must then be the graph the observers were made for (its ANN lowering computes
   * the source ANN's logits). Cached steps give the same values, bit for bit, as the whole window
   * recomputed (test/calibrate/sample-observe.test.ts, every shipped family), so the thresholds are those
   * of calibrateThresholds on the sampled windows.
   */
  readonly observers?: ThresholdObservers;
}

/**
 * Longest stretch of text sampled as one row. Longer windows are joined from documents of this length,
 * each opening with the start token (the model's own document separator), so every position of the
 * window is still calibrated while sampling's K/V cache and its per-step copies stay those of short
 * rows: a 1 024-token context sampled whole cost ~30 min and 13× the weights on distilgpt2-shaped
 * (bench/RESULTS.md). A cost bound, not a fidelity setting: no figure chose it.
 */
export const SAMPLED_DOCUMENT_LENGTH = 256;

/**
 * The default linears of the document sampler: INT8 (emit/w8a8.ts lowerDynamicInt8Linear). Sampling is
 * the largest phase of a conversion and its GEMMs are most of it; on the 8-bit GEMM a step of 64
 * documents runs 1.5–1.8× as fast (SmolLM2-135M-shaped 198 → 132 ms, distilgpt2-shaped 98 → 54 ms) and
 * holds a quarter of the float weights (bench/RESULTS.md). The documents are then the 8-bit model's draws,
 * not the float model's: its next-token distributions stay close (test/calibrate/sampler.test.ts), and the
 * thresholds are observed on the float ANN over them as before. A cost setting; no reported figure chose it.
 */
export const SAMPLER_LINEARS: SamplerLinears = 'int8';

/**
 * Samples `samples` windows of `length` tokens from the ANN, all rows of a batch through its KV cache,
 * each token drawn from the model's distribution with a seeded generator (so the same seed gives the
 * same windows). For a model whose domain is unknown this is text the model itself finds typical.
 * Windows longer than SAMPLED_DOCUMENT_LENGTH are joined from sampled documents (observers then need
 * a separate pass over the windows: `observers` is refused for them).
 */
export async function sampleFromModel(graph: Graph, opts: ModelSampleOptions): Promise<CalibrationData> {
  const { samples: B, length } = opts;
  const rng = createRng(opts.seed);
  const text = `model-sampled (seed ${opts.seed}, temperature ${opts.temperature ?? 1})`;
  if (length <= SAMPLED_DOCUMENT_LENGTH) {
    return { samples: await sampleRows(graph, B, length, rng, opts, opts.onProgress), text, numSamples: B, maxLength: length };
  }
  if (opts.observers) throw new SnnError('GRAPH_INVALID', { message: `observing while sampling needs windows of at most ${SAMPLED_DOCUMENT_LENGTH} tokens, got ${length}`, at: 'sampleFromModel' });
  // Window b is documents b·parts … b·parts + parts − 1, each from its own seeded stream, cut to `length`.
  const parts = Math.ceil(length / SAMPLED_DOCUMENT_LENGTH);
  const linears = opts.linears ?? SAMPLER_LINEARS;
  const docs = await sampleDocuments(graph, B * parts, SAMPLED_DOCUMENT_LENGTH, { ...opts, linears }, (d, total) => opts.onProgress?.(Math.round((d / total) * length), length));
  const windows = Array.from({ length: B }, (_, b) => docs.slice(b * parts, (b + 1) * parts).flat().slice(0, length));
  return { samples: windows, text: `${text}, documents of ${SAMPLED_DOCUMENT_LENGTH} tokens joined${linears === 'int8' ? ', drawn through 8-bit linears' : ''}`, numSamples: B, maxLength: length };
}

/** K/V buffer bytes the sampler holds per document of `length` tokens (its fixed cache: every layer's keys and values). */
export function samplerBytesPerDocument(graph: Graph, length: number): number {
  const { numLayers, numKvHeads, headDim } = graph.spec;
  return numLayers * 2 * numKvHeads * Math.max(0, length - 1) * headDim * 4;
}

/**
 * K/V bytes sampling `samples` windows of `length` tokens holds at once (the memory check's share): the
 * sampler's buffers for windows joined from documents, else the growing cache of one batch of rows.
 */
export function samplingBytes(graph: Graph, samples: number, length: number): number {
  if (length <= SAMPLED_DOCUMENT_LENGTH) return samplingCacheBytes(graph, samples, length);
  const docs = samples * Math.ceil(length / SAMPLED_DOCUMENT_LENGTH);
  return samplerBatch(graph, docs, SAMPLED_DOCUMENT_LENGTH) * samplerBytesPerDocument(graph, SAMPLED_DOCUMENT_LENGTH);
}

/** K/V buffers one sampler batch may hold; more documents are sampled in further batches (same text: each has its own stream). */
export const SAMPLER_CACHE_BUDGET = 1 << 30;

/** Documents one sampler batch holds: all of them, up to SAMPLER_CACHE_BUDGET of K/V buffers. */
export function samplerBatch(graph: Graph, docs: number, length: number): number {
  return Math.max(1, Math.min(docs, Math.floor(SAMPLER_CACHE_BUDGET / Math.max(1, samplerBytesPerDocument(graph, length)))));
}

/** The seed of document `doc`'s stream: a 32-bit mix of the calibration seed and the document's index. */
export function documentSeed(seed: number, doc: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x27d4eb2f) ^ Math.imul(doc + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Samples `docs` documents of `length` tokens, each opening with the start token and drawn from its own
 * stream (documentSeed), so a document does not depend on which others share its batch. The sampler form
 * (emitOnnx's `sampler`) keeps the K/V cache in buffers allocated once, written one slot per step, and
 * draws each token in the graph from a uniform this side supplies: per step only the new K/V and one id
 * per row come back. (Growing present outputs copied every row's cache three times per step and their
 * fresh pages dominated: 16 rows × 256 tokens of distilgpt2-shaped took 20.5 s, 64 rows 226 s.)
 */
export async function sampleDocuments(graph: Graph, docs: number, length: number, opts: Pick<ModelSampleOptions, 'seed' | 'start' | 'temperature' | 'linears'> & { readonly batch?: number; readonly embeddings?: 'fed' | 'graph' }, onProgress?: (done: number, total: number) => void): Promise<number[][]> {
  const rows = Array.from({ length: docs }, () => [opts.start]);
  const slots = length - 1;
  if (slots < 1 || docs === 0) return rows;
  const batch = opts.batch ?? samplerBatch(graph, docs, length);
  const temperature = opts.temperature ?? 1;
  const { numLayers: L, numKvHeads: H, headDim: D } = graph.spec;
  const table = opts.embeddings === 'graph' ? null : fileTable(graph);
  const quantized = (opts.linears ?? SAMPLER_LINEARS) === 'int8' ? { quantized: 'dynamic' as const } : {};
  return withEmittedModel(graph, 'ann', { sampler: { temperature, embeddingsFed: table !== null }, ...quantized }, async (modelPath) => {
    const { session } = await createDeviceSession(modelPath, 'cpu');
    const fetches = [SAMPLER_TOKEN, ...Array.from({ length: L }, (_, l) => [presentKey(l), presentValue(l)]).flat()];
    const rowsOf = table ? new TensorRows(table) : null;
    try {
      for (let first = 0; first < docs; first += batch) {
        const B = Math.min(batch, docs - first);
        const rngs = Array.from({ length: B }, (_, b) => createRng(documentSeed(opts.seed, first + b)));
        const cache = new SamplerCache(B, L, H, D, slots);
        const ids = new BigInt64Array(B);
        const positions = new BigInt64Array(B);
        const uniform = new Float32Array(B);
        const width = table?.shape[1] ?? 0;
        const embeds = table ? new Float32Array(B * width) : null;
        const feeds: Record<string, ort.Tensor> = {
          [INPUT_IDS]: new ort.Tensor('int64', ids, [B, 1]),
          [POSITION_IDS]: new ort.Tensor('int64', positions, [B, 1]),
          [SAMPLER_UNIFORM]: new ort.Tensor('float32', uniform, [B]),
          ...(embeds ? { [SAMPLER_EMBEDS]: new ort.Tensor('float32', embeds, [B, 1, width]) } : {}),
        };
        for (let past = 0; past < slots; past++) {
          for (let b = 0; b < B; b++) {
            const id = rows[first + b]![past]!;
            ids[b] = BigInt(id);
            if (embeds) rowsOf!.read(id, embeds, b);
            uniform[b] = rngs[b]!();
          }
          positions.fill(BigInt(past));
          const out = await session.run(Object.assign(feeds, cache.feeds(past)), fetches);
          const drawn = out[SAMPLER_TOKEN]!.data as BigInt64Array;
          for (let b = 0; b < B; b++) rows[first + b]!.push(Number(drawn[b]!));
          for (let l = 0; l < L; l++) cache.write(l, past, out[presentKey(l)]!.data as Float32Array, out[presentValue(l)]!.data as Float32Array);
          onProgress?.(first * length + B * (past + 2), docs * length);
        }
      }
    } finally {
      rowsOf?.close();
      await session.release();
    }
    return rows;
  });
}

/**
 * The token embedding's table when its rows can be read straight from its file (float32 safetensors, a
 * little-endian host), else null. The sampler then feeds the rows it needs instead of a Gather from the
 * table: onnxruntime maps the table for a Gather, and the page cache maps it in large folios, so 64 rows
 * across distilgpt2's vocabulary made 77 MB of its 147 MB resident, and a sampling run all of it, beside
 * the tied head's packed copy (bench/RESULTS.md).
 */
function fileTable(graph: Graph): StTensor | null {
  const node = graph.nodes.find(isTokenEmbedding);
  if (!node || endianness() !== 'LE') return null;
  const w = tableOf(graph, node);
  const t = fileTensor(w);
  return t && t.dtype === 'F32' && t.length === w.shape[0]! * w.shape[1]! * 4 ? t : null;
}

/**
 * The sampler's K/V: per layer and kind a view of one block of every slot, allocated once, laid out for the slots in use
 * (`capacity`, grown SAMPLER_SLOT_STEP at a time by moving the filled slots in place), so a step's attention
 * reads the filled slots and at most a step's worth of empty ones, never the whole buffer. Keys are
 * transposed ([B, H, D, capacity]: the scores' product needs no Transpose), values [B, H, capacity, D].
 */
class SamplerCache {
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];
  private capacity = 0;
  private filled = 0;
  private tensors: Record<string, ort.Tensor> = {};

  constructor(private readonly B: number, private readonly L: number, private readonly H: number, private readonly D: number, private readonly slots: number) {
    // One allocation for every layer's keys and values: glibc maps a block this large and gives it back
    // when freed. Buffers of one layer each (12.5 MB for SmolLM2-135M-shaped's 64 documents) came from its
    // heap once its mmap threshold had risen, and stayed with the process: 1.4 GB resident after sampling
    // with nothing live, 0.8 GB with one block (bench/RESULTS.md).
    const n = B * H * D * slots;
    const all = new Float32Array(2 * L * n);
    this.keys = Array.from({ length: L }, (_, l) => all.subarray(2 * l * n, (2 * l + 1) * n));
    this.values = Array.from({ length: L }, (_, l) => all.subarray((2 * l + 1) * n, (2 * l + 2) * n));
  }

  /** The past K/V and mask feeds for a step on top of `past` filled slots (slot `past` is written after it). */
  feeds(past: number): Record<string, ort.Tensor> {
    this.filled = past;
    const wanted = Math.min(this.slots, Math.ceil((past + 1) / SAMPLER_SLOT_STEP) * SAMPLER_SLOT_STEP);
    if (wanted !== this.capacity) this.grow(wanted);
    const mask = this.tensors[ATTENTION_MASK]!.data as BigInt64Array;
    if (past > 0) for (let b = 0; b < this.B; b++) mask[b * (this.capacity + 1) + past - 1] = 1n;
    return this.tensors;
  }

  /** Writes the new token's K/V ([B, H, 1, D]) of layer `l` into slot `past`. */
  write(l: number, past: number, k: Float32Array, v: Float32Array): void {
    const { B, H, D, capacity } = this;
    const keys = this.keys[l]!, values = this.values[l]!;
    // Plain loops: a subarray per row (values.set) allocated 1.2 M views over distilgpt2's sampling.
    for (let r = 0, n = B * H * D, at = past; r < n; r++, at += capacity) keys[at] = k[r]!;
    for (let bh = 0; bh < B * H; bh++) {
      const from = bh * D, to = (bh * capacity + past) * D;
      for (let d = 0; d < D; d++) values[to + d] = v[from + d]!;
    }
  }

  private grow(capacity: number): void {
    const { B, H, D, L, filled } = this;
    const old = this.capacity;
    // Rows move to higher offsets; from the last one down, no row overwrites one not yet moved.
    if (old > 0) {
      for (let l = 0; l < L; l++) {
        const keys = this.keys[l]!, values = this.values[l]!;
        for (let r = B * H * D - 1; r >= 0; r--) keys.copyWithin(r * capacity, r * old, r * old + filled);
        for (let bh = B * H - 1; bh >= 0; bh--) values.copyWithin(bh * capacity * D, bh * old * D, (bh * old + filled) * D);
      }
    }
    this.capacity = capacity;
    const mask = new BigInt64Array(B * (capacity + 1));
    for (let b = 0; b < B; b++) {
      mask.fill(1n, b * (capacity + 1), b * (capacity + 1) + filled);
      mask[b * (capacity + 1) + capacity] = 1n;
    }
    this.tensors = { [ATTENTION_MASK]: new ort.Tensor('int64', mask, [B, capacity + 1]) };
    for (let l = 0; l < L; l++) {
      this.tensors[pastKey(l)] = new ort.Tensor('float32', this.keys[l]!.subarray(0, B * H * D * capacity), [B, H, D, capacity]);
      this.tensors[pastValue(l)] = new ort.Tensor('float32', this.values[l]!.subarray(0, B * H * capacity * D), [B, H, capacity, D]);
    }
  }
}

/** Slots the sampler's cache grows by: a step's attention reads at most this many empty slots. */
export const SAMPLER_SLOT_STEP = 32;

async function sampleRows(graph: Graph, B: number, length: number, rng: Rng, opts: ModelSampleOptions, onProgress: ((done: number, total: number) => void) | undefined): Promise<number[][]> {
  const observers = opts.observers;
  const observe = observers && observers.observed.length > 0 ? observers : undefined;
  // Prepacked weights and the arena (onnxruntime's defaults, as every ANN session here): a step over 16 rows of
  // SmolLM2-135M-shaped at 128 cached tokens takes 180 ms, 311 ms unpacked and 2–3× more without the arena
  // (fresh pages for every output; bench/RESULTS.md).
  const session = await openGraphSession(graph, 'ann', { ...(observe ? { observe: observe.observed, observeTop: observe.top } : {}) });
  const V = graph.spec.vocabSize;
  const rows = Array.from({ length: B }, () => [opts.start]);
  try {
    let cache: Float32Array[] = [];
    // With observers, the last step runs only to observe the last token (its logits are not drawn from).
    const steps = observe ? length : length - 1;
    for (let past = 0; past < steps; past++) {
      const ids = BigInt64Array.from(rows, (r) => BigInt(r[past]!));
      const out = await session.run({ batch: B, seq: 1, ids, mask: new BigInt64Array(B * (past + 1)).fill(1n), positions: new BigInt64Array(B).fill(BigInt(past)), past, cache }, observe?.outputs ?? []);
      cache = out.present;
      if (observe) observe.addTop(new Map([...out.extra].map(([name, t]) => [name, t.data])), B);
      if (past < length - 1) rows.forEach((r, b) => r.push(sampleToken(out.logits.subarray(b * V, (b + 1) * V), { temperature: opts.temperature ?? 1 }, rng)));
      onProgress?.(Math.min(past + 2, length), length);
    }
  } finally {
    await session.release();
  }
  return rows;
}
