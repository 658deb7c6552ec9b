// What every command shares: option parsers, output helpers, and opening a <model> argument for running.
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MODEL } from '../convert.js';
import { SnnError } from '../errors/index.js';
import { resolveModel } from '../import/hub.js';
import { loadBundle, type RunnableModel } from '../runtime/model.js';
import { loadHfAnn } from '../open/hf-ann.js';
import { parseDevice as parseDeviceChoice, parseSimulation, type DeviceChoice, type Simulation } from '../options/values.js';
import { loadEventBundle } from '../reference/load.js';

/** The `--simulate` option shared by the commands that run a bundle. */
export const SIMULATE_HELP = 'execution form of the SNN: closed (T-parallel, the weighted code\'s runtime) | steps (step-by-step reference simulation) | events (event-driven reference, weighted or rate code: membranes, thresholds, event-by-event synapses; CPU, slow)';
import { importOnnxModel } from '../import/onnx/index.js';
import { onnxOnlyFolderModel } from '../import/onnx/source.js';
import { loadTokenizer } from '../tokenizer/tokenizer.js';
import { HfAnnModel } from '../open/hf-ann.js';

export function intOption(name: string, min = 1) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim()) || Number(value) < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

export function floatOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got ${JSON.stringify(value)}`);
    return n;
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export interface OpenOptions {
  readonly annOnly?: boolean;
  /** Parsed by {@link deviceOption} when commander reads the command line. */
  readonly device?: DeviceChoice;
  readonly revision?: string;
  readonly offline?: boolean;
  readonly allowNonfinite?: boolean;
  /** `--simulate closed|steps|events`: the execution form of a bundle's SNN (default: model.onnx's own), parsed by {@link simulateOption}. */
  readonly simulate?: Simulation;
  /** Print what `--device auto` passed over, and why (default: `--verbose` on the command line). */
  readonly verbose?: boolean;
  /** For an .onnx file: the folder with its config.json and tokenizer. */
  readonly tokenizer?: string;
}

/** `--device` for every command that runs a model (the one place: commands added later get it too). */
export const DEVICE_HELP = 'cpu | webgpu | cuda | auto (the best device present)';

export function parseDevice(value: string | undefined): DeviceChoice {
  return parseDeviceChoice(value, '--device');
}

/** `--device`, parsed once as commander reads it: actions get a DeviceChoice (default cpu). */
export function deviceOption(help = DEVICE_HELP): Option {
  return new Option('--device <device>', help).argParser((v: string) => parseDeviceChoice(v, '--device')).default('cpu');
}

/** `--simulate`, parsed once as commander reads it: actions get a Simulation or nothing. */
export function simulateOption(): Option {
  return new Option('--simulate <form>', SIMULATE_HELP).argParser((v: string) => parseSimulation(v, '--simulate'));
}

/** Opens `<model>` (default: the embedded model): a bundle as is; a HF folder or hub id as its ANN (needs --ann-only). */
export async function openModel(model: string | undefined, opts: OpenOptions): Promise<RunnableModel> {
  const device = opts.device ?? 'cpu';
  const resolved = await resolveModel(model ?? DEFAULT_MODEL, { ...(opts.revision ? { revision: opts.revision } : {}), offline: opts.offline ?? false });
  if (resolved.kind === 'bundle') {
    if (opts.simulate === 'events') {
      if (device !== 'cpu') throw new SnnError('OPTION_INVALID', { message: `the event reference runs on the CPU, not on ${device}`, at: '--simulate events', hint: 'drop --device, or use --device cpu' });
      return loadEventBundle(resolved.path);
    }
    const bundle = await loadBundle(resolved.path, { device, ...(opts.simulate ? { simulate: opts.simulate } : {}) });
    if (opts.verbose ?? process.argv.includes('--verbose')) {
      for (const s of bundle.deviceSkips) process.stderr.write(`--device ${device}: skipped ${s.device}: ${s.reason}\n`);
    }
    return bundle;
  }
  const onnxFile = resolved.kind === 'onnx' ? resolved.path : onnxOnlyFolderModel(resolved.path);
  if (!opts.annOnly) {
    throw new SnnError('OPTION_INVALID', {
      message: `${resolved.path} is ${resolved.kind === 'onnx' ? 'an ONNX' : 'a HuggingFace'} model, not a .snn bundle`,
      at: resolved.path,
      hint: `add --ann-only to run the source ANN, or convert it first: snnconvert convert ${model ?? ''} -o model.snn`,
    });
  }
  if (onnxFile) {
    const configDir = opts.tokenizer ?? (resolved.kind === 'hf-dir' ? resolved.path : undefined);
    const imported = importOnnxModel(onnxFile, configDir ? { configDir } : {});
    return new HfAnnModel(imported, await loadTokenizer(imported.dir), device);
  }
  return loadHfAnn(resolved.path, { device, allowNonFinite: opts.allowNonfinite ?? false });
}
