// Counting spikes per site and per channel: from raw spike tensors ([T, B, S, D] integers), or from the graph's per-channel sums.
import { SnnError } from '../errors/index.js';
import { SPIKE_COUNT_ROWS } from '../emit/spike-counts.js';

const ROW = Object.fromEntries(SPIKE_COUNT_ROWS.map((r, i) => [r, i])) as Record<(typeof SPIKE_COUNT_ROWS)[number], number>;

/** Running totals of one site's spike tensors. A multi-level event of value v counts as |v| spikes. */
export class SpikeCounter {
  elements = 0;
  events = 0;
  spikes = 0;
  positiveSpikes = 0;
  negativeSpikes = 0;
  nonBinaryEvents = 0;
  /** Trains (token × channel) with at least one clipped step, and clipped steps (saturation tensors). */
  trainsClipped = 0;
  stepsClipped = 0;
  /** Σ|value| per channel. */
  readonly perChannel: Float64Array;

  constructor(readonly site: string, readonly channels: number) {
    this.perChannel = new Float64Array(channels);
  }

  add(data: Float32Array): void {
    const D = this.channels;
    if (data.length % D !== 0) throw new SnnError('GRAPH_INVALID', { message: `spike tensor of ${data.length} values is not a multiple of ${D} channels`, at: `spikes/${this.site}` });
    let events = 0, pos = 0, neg = 0, nonBinary = 0;
    const perChannel = this.perChannel;
    for (let i = 0, d = 0; i < data.length; i++, d = d + 1 === D ? 0 : d + 1) {
      const v = data[i]!;
      if (v === 0) continue;
      if (!Number.isInteger(v)) throw new SnnError('GRAPH_INVALID', { message: `spike tensor holds ${v}, not an integer spike value`, at: `spikes/${this.site}` });
      events += 1;
      if (v > 0) pos += v; else neg -= v;
      if (v > 1 || v < -1) nonBinary += 1;
      perChannel[d]! += Math.abs(v);
    }
    this.elements += data.length;
    this.events += events;
    this.positiveSpikes += pos;
    this.negativeSpikes += neg;
    this.spikes += pos + neg;
    this.nonBinaryEvents += nonBinary;
  }

  /**
   * Adds a window's counts computed in the graph (`spikecounts/<site>`, [SPIKE_COUNT_ROWS, D]: spike-counts.ts)
   * over `elements` spike-tensor entries: the same totals as add() and addSaturation() on the tensors themselves.
   */
  addCounts(rows: Float32Array, elements: number): void {
    const D = this.channels;
    if (rows.length !== SPIKE_COUNT_ROWS.length * D) throw new SnnError('GRAPH_INVALID', { message: `spike counts of ${rows.length} values, expected ${SPIKE_COUNT_ROWS.length} rows of ${D} channels`, at: `spikecounts/${this.site}` });
    const total = (row: number): number => { let t = 0; for (let d = 0; d < D; d++) t += rows[row * D + d]!; return t; };
    const nonInteger = total(ROW.nonInteger);
    if (nonInteger !== 0) throw new SnnError('GRAPH_INVALID', { message: `spike tensor holds values that are not integers (Σ(v − ⌊v⌋) = ${nonInteger})`, at: `spikes/${this.site}` });
    for (let d = 0; d < D; d++) this.perChannel[d]! += rows[ROW.spikes * D + d]!;
    const spikes = total(ROW.spikes);
    const pos = total(ROW.positive);
    this.elements += elements;
    this.events += total(ROW.events);
    this.positiveSpikes += pos;
    this.negativeSpikes += spikes - pos;
    this.spikes += spikes;
    this.nonBinaryEvents += total(ROW.nonBinary);
    this.trainsClipped += total(ROW.trainsClipped);
    this.stepsClipped += total(ROW.stepsClipped);
  }

  /** Adds a saturation tensor ([B, S, D]: clipped steps per train). */
  addSaturation(data: Float32Array): void {
    let trains = 0, steps = 0;
    for (const v of data) if (v > 0) { trains += 1; steps += v; }
    this.trainsClipped += trains;
    this.stepsClipped += steps;
  }
}
