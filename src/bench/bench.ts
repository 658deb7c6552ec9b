// runBench(): ANN vs SNN of one bundle in one process — prefill and decode tokens/s per sequence length — plus a timed re-conversion.
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import os from 'node:os';
import ort from 'onnxruntime-node';
import { DEFAULT_REPORT_TEXT } from '../calibrate/data.js';
import { SnnError } from '../errors/index.js';
import { adapterLabel, type Device, type DeviceChoice } from '../runtime/device.js';
import { loadBundle, type Bundle } from '../runtime/model.js';
import { measureConversion, type ConversionMeasurement } from './conversion.js';
import { RssSampler } from './rss-sampler.js';
import { capLengths, timeDecode, timePrefill, type RepeatOptions, type TimedRun } from './throughput.js';

export interface BenchOptions {
  /** Default 32, 128, 512 (capped at the model context). */
  readonly lengths?: readonly number[];
  /** Timed repetitions per measurement, within `budgetSeconds` (default 3 and 10 s). */
  readonly reps?: number;
  readonly budgetSeconds?: number;
  /** Decode calls timed per length (default 16, at most half the length). */
  readonly decodeSteps?: number;
  /** Re-convert from this model instead of the bundle's recorded source; `false` skips the conversion. */
  readonly source?: string | false;
  /** Token ids come from this text (default: the shipped held-out text). */
  readonly text?: string;
  /** cpu (default): the CPU only; another device is measured in the same run after the CPU. */
  readonly device?: DeviceChoice;
  readonly onProgress?: (message: string) => void;
}

export interface BenchPair {
  readonly ann: TimedRun;
  readonly snn: TimedRun;
  /** SNN tokens/s ÷ ANN tokens/s. */
  readonly ratio: number;
}

export interface BenchLength {
  /** The requested lengths measured at `seq` (several when they were capped to the same context). */
  readonly requested: readonly number[];
  readonly seq: number;
  /** True when a requested length exceeded the model context and was capped to it. */
  readonly capped: boolean;
  readonly prefill: BenchPair;
  /** `steps` single-token calls on the KV cache, ending at `seq` tokens. */
  readonly decode: BenchPair & { readonly steps: number };
}

/** One device's figures, or why it could not run the bundle. */
export type DeviceBench =
  | { readonly device: Device; readonly adapter: string; readonly lengths: readonly BenchLength[] }
  | { readonly device: DeviceChoice; readonly adapter: string; readonly failed: string };

export interface BenchResult {
  readonly bundle: string;
  readonly date: string;
  readonly model: { readonly source: string; readonly arch: string; readonly recipe: string; readonly timesteps: number; readonly layers: number; readonly hiddenSize: number; readonly vocabSize: number; readonly contextLength: number };
  readonly machine: { readonly cpuModel: string; readonly nproc: number; readonly memoryBytes: number; readonly platform: string; readonly node: string; readonly onnxruntime: string; readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] } };
  readonly conversion: ConversionMeasurement | { readonly skipped: string };
  /** The CPU's figures (also `devices[0]`). */
  readonly lengths: readonly BenchLength[];
  /** Per device measured, the CPU first. */
  readonly devices: readonly DeviceBench[];
  readonly method: string;
}

const pair = (ann: TimedRun, snn: TimedRun): BenchPair => ({ ann, snn, ratio: snn.tokensPerSecond / ann.tokensPerSecond });

/**
 * Benchmarks a bundle on this machine: on the CPU, then on `device` when another is asked for.
 * @example
 * const r = await runBench('shakespeare.snn', { lengths: [32, 128] });
 */
export async function runBench(bundlePath: string, opts: BenchOptions = {}): Promise<BenchResult> {
  const progress = opts.onProgress ?? (() => undefined);
  const startLoad = loadavg();
  const bundle = await loadBundle(bundlePath);
  const spec = bundle.spec;
  const meta = bundle.meta;
  const ctx = spec.maxPositions;
  const wanted = capLengths(opts.lengths ?? [32, 128, 512], ctx);
  if (wanted.length === 0 || wanted.some((l) => l.seq < 2)) throw new SnnError('OPTION_INVALID', { message: 'sequence lengths must be integers ≥ 2', at: '--lengths' });
  const textIds = bundle.tokenizer.encode(readFileSync(opts.text ?? DEFAULT_REPORT_TEXT, 'utf8'));
  if (textIds.length === 0) throw new SnnError('TEXT_INVALID', { message: 'the text has no tokens', at: opts.text ?? DEFAULT_REPORT_TEXT });
  const ids = Array.from({ length: ctx }, (_, i) => textIds[i % textIds.length]!);
  const sampler = new RssSampler();
  const repeat: RepeatOptions = { reps: opts.reps ?? 3, budgetSeconds: opts.budgetSeconds ?? 10, sampler };
  const devices: DeviceBench[] = [];
  let released = false;
  try {
    devices.push({ device: 'cpu', adapter: adapterLabel('cpu'), lengths: await measureLengths(bundle, wanted, ids, repeat, opts, progress) });
    released = true;
    await bundle.release();
    const other = opts.device ?? 'cpu';
    if (other !== 'cpu') {
      try {
        const on = await loadBundle(bundlePath, { device: other });
        try {
          progress(`device ${on.device}`);
          devices.push({ device: on.device, adapter: adapterLabel(on.device), lengths: await measureLengths(on, wanted, ids, repeat, opts, progress) });
        } finally {
          await on.release();
        }
      } catch (e) {
        // Keep the CPU figures; say plainly why the device has none.
        devices.push({ device: other, adapter: other === 'auto' ? 'auto' : adapterLabel(other), failed: e instanceof SnnError ? e.render() : (e as Error).message });
      }
    }
  } finally {
    await sampler.stop();
    if (!released) await bundle.release();
  }
  const lengths = 'lengths' in devices[0]! ? devices[0].lengths : [];
  let conversion: BenchResult['conversion'] = { skipped: 'not requested (--no-conversion)' };
  if (opts.source !== false) {
    progress('conversion (child process)');
    try {
      conversion = await measureConversion({
        source: opts.source ?? meta.source.id, recipe: meta.recipe, code: bundle.contents.graph.spiking?.code ?? 'rate', timesteps: bundle.contents.timesteps, threshold: meta.calibration.statistic,
        calibSamples: meta.calibration.samples, calibLength: meta.calibration.length, calibText: meta.calibration.text,
      });
    } catch (e) {
      // Keep the throughput figures already measured; say plainly why there is no conversion figure.
      conversion = { skipped: `the conversion failed: ${e instanceof SnnError ? e.render() : (e as Error).message}` };
    }
  }
  return {
    bundle: bundle.path, date: new Date().toISOString(),
    model: { source: meta.source.id, arch: spec.arch, recipe: meta.recipe, timesteps: bundle.contents.timesteps, layers: spec.numLayers, hiddenSize: spec.hiddenSize, vocabSize: spec.vocabSize, contextLength: ctx },
    machine: {
      cpuModel: cpus()[0]?.model ?? 'unknown', nproc: os.availableParallelism(), memoryBytes: totalmem(), platform: `${process.platform}-${process.arch}`,
      node: process.version, onnxruntime: ort.env.versions.node ?? 'unknown', loadAverage: { start: startLoad, end: loadavg() },
    },
    conversion, lengths, devices,
    method: 'Per device (the CPU execution provider first, then the --device one; a WebGPU software adapter runs on the CPU, so its timings are not GPU figures), batch 1, one process, ANN and SNN sessions of the same bundle. Prefill: one uncached forward of seq tokens, one warm-up run then the median of up to `reps` timed runs within the time budget. '
      + 'Decode: prefill seq − steps tokens, then `steps` calls of one token each fed the previous call\'s present K/V (kept in GPU memory on WebGPU; one untimed warm-up decode there, which compiles its shaders); tokens/s = steps / time of those calls (median over reps). '
      + 'Peak RSS: process RSS sampled every 5 ms by a worker thread during the timed runs (the process holds both sessions and memory kept from earlier runs). '
      + 'Conversion: `snnconvert convert` re-run in a child process with the bundle\'s recipe, T and calibration settings (SpikeScope report included), its own maxRSS read at exit. '
      + 'Token ids: the text, repeated if shorter than the context.',
  };
}

/** Prefill and decode of the ANN and the SNN of `bundle` (on its device) at each length. */
async function measureLengths(
  bundle: Bundle, wanted: ReturnType<typeof capLengths>, ids: readonly number[], repeat: RepeatOptions, opts: BenchOptions, progress: (m: string) => void,
): Promise<BenchLength[]> {
  const lengths: BenchLength[] = [];
  const ann = await bundle.session(true);
  const snn = await bundle.session(false);
  const warm = bundle.device !== 'cpu';
  for (const { requested, seq, capped } of wanted) {
    progress(`${bundle.device}: prefill ${seq} tokens (warm-up, then timed): ANN, SNN`);
    await timePrefill(ann, ids, seq, { ...repeat, reps: 1 });
    const annPrefill = await timePrefill(ann, ids, seq, repeat);
    await timePrefill(snn, ids, seq, { ...repeat, reps: 1 });
    const snnPrefill = await timePrefill(snn, ids, seq, repeat);
    const steps = Math.max(1, Math.min(opts.decodeSteps ?? 16, Math.floor(seq / 2)));
    progress(`${bundle.device}: decode ${steps} tokens up to ${seq}: ANN, SNN`);
    if (warm) await timeDecode(ann, ids, seq, steps, { ...repeat, reps: 1 });
    const annDecode = await timeDecode(ann, ids, seq, steps, repeat);
    if (warm) await timeDecode(snn, ids, seq, steps, { ...repeat, reps: 1 });
    const snnDecode = await timeDecode(snn, ids, seq, steps, repeat);
    lengths.push({ requested, seq, capped, prefill: pair(annPrefill, snnPrefill), decode: { ...pair(annDecode, snnDecode), steps } });
  }
  return lengths;
}
