// What every command shares: option parsers, output helpers, and opening a <model> argument for running.
import { InvalidArgumentError } from 'commander';
import { DEFAULT_MODEL } from '../convert.js';
import { SnnError } from '../errors/index.js';
import { resolveModel } from '../import/hub.js';
import { loadBundle, type RunnableModel } from '../runtime/model.js';
import { loadHfAnn } from '../open/hf-ann.js';
import { parseDevice as parseDeviceChoice, type DeviceChoice } from '../runtime/device.js';
import type { Execution } from '../emit/lower.js';

/** The `--simulate` option shared by the commands that run a bundle. */
export const SIMULATE_HELP = 'execution form of the SNN: closed (T-parallel, the weighted code\'s runtime) | steps (step-by-step reference simulation) | events (event-driven reference: membranes, thresholds, event-by-event synapses; CPU, slow)';
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
  readonly device?: string;
  readonly revision?: string;
  readonly offline?: boolean;
  readonly allowNonfinite?: boolean;
  /** `--simulate steps|closed`: the execution form of a bundle's SNN (default: model.onnx's own). */
  readonly simulate?: string;
  /** For an .onnx file: the folder with its config.json and tokenizer. */
  readonly tokenizer?: string;
}

/** `--device` for every command that runs a model (the one place: commands added later get it too). */
export const DEVICE_HELP = 'cpu | webgpu | cuda | auto (the best device present)';

export function parseDevice(value: string | undefined): DeviceChoice {
  return parseDeviceChoice(value, '--device');
}

/** Opens `<model>` (default: the embedded model): a bundle as is; a HF folder or hub id as its ANN (needs --ann-only). */
export async function openModel(model: string | undefined, opts: OpenOptions): Promise<RunnableModel> {
  const device = parseDevice(opts.device);
  const resolved = await resolveModel(model ?? DEFAULT_MODEL, { ...(opts.revision ? { revision: opts.revision } : {}), offline: opts.offline ?? false });
  if (resolved.kind === 'bundle') return loadBundle(resolved.path, { device, ...(opts.simulate ? { simulate: opts.simulate as Execution | 'events' } : {}) });
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
