// Typed option values (T, device, spike code, recipe, execution form, calibration sampler): parsed once at the boundary (CLI, public API), carried as values below it.
import { SnnError } from '../errors/index.js';

declare const timestepsBrand: unique symbol;
/** T, the steps per token: an integer in [1, MAX_TIMESTEPS], made only by {@link parseTimesteps}. */
export type Timesteps = number & { readonly [timestepsBrand]: true };
export const MAX_TIMESTEPS = 1024;

/** The one parser of `--timesteps`, `timesteps` and every T of a sweep (a string from the CLI, a number from the API). */
export function parseTimesteps(value: unknown, at = '--timesteps'): Timesteps {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_TIMESTEPS) {
    throw new SnnError('OPTION_INVALID', { message: `timesteps must be a positive integer (1–${MAX_TIMESTEPS}), got ${JSON.stringify(value)}`, at });
  }
  return n as Timesteps;
}

export const SPIKE_CODES = ['weighted', 'rate'] as const;
export type SpikeCode = (typeof SPIKE_CODES)[number];

export function parseCode(value: unknown, at = '--code'): SpikeCode {
  return parseChoice(value, SPIKE_CODES, 'spike code', at);
}

export const RECIPES = ['faithful', 'stac', 'exact'] as const;
export type Recipe = (typeof RECIPES)[number];

export function parseRecipe(value: unknown, at = '--recipe'): Recipe {
  return parseChoice(value, RECIPES, 'recipe', at);
}

/** A device a session runs on: onnxruntime's CPU, WebGPU (Dawn: Vulkan/Metal/D3D12) or CUDA provider. */
export type Device = 'cpu' | 'webgpu' | 'cuda';
/** What a user may ask for: a device, or `auto` (the best one present). */
export type DeviceChoice = Device | 'auto';
export const DEVICE_CHOICES: readonly DeviceChoice[] = ['cpu', 'webgpu', 'cuda', 'auto'];

/** The one parser of `--device` and `{ device }`; absent means the CPU. */
export function parseDevice(value: unknown, at = '--device'): DeviceChoice {
  return value === undefined ? 'cpu' : parseChoice(value, DEVICE_CHOICES, 'device', at);
}

/**
 * How a spiking graph is executed: `steps` simulates every neuron step by step over a [T, B, S, D]
 * time axis (the reference); `closed` is the T-parallel form of the weighted code.
 */
export const EXECUTIONS = ['closed', 'steps'] as const;
export type Execution = (typeof EXECUTIONS)[number];

export function parseExecution(value: unknown, at = '--simulate'): Execution {
  return parseChoice(value, EXECUTIONS, 'execution form', at);
}

/** What `--simulate` accepts: an execution form stored in the bundle, or `events`, the event-driven reference (src/reference/). */
export const SIMULATIONS = [...EXECUTIONS, 'events'] as const;
export type Simulation = (typeof SIMULATIONS)[number];

export function parseSimulation(value: unknown, at = '--simulate'): Simulation {
  return parseChoice(value, SIMULATIONS, 'execution form', at);
}

/** How the calibration sampler draws its documents: through 8-bit linears, or through the float ANN itself (calibrate/sample.ts). */
export const SAMPLER_LINEARS_CHOICES = ['int8', 'float'] as const;
export type SamplerLinears = (typeof SAMPLER_LINEARS_CHOICES)[number];

export function parseSamplerLinears(value: unknown, at = '--calib-sampler'): SamplerLinears {
  return parseChoice(value, SAMPLER_LINEARS_CHOICES, 'calibration sampler', at);
}

function parseChoice<T extends string>(value: unknown, valid: readonly T[], what: string, at: string): T {
  if (typeof value === 'string' && (valid as readonly string[]).includes(value)) return value as T;
  throw new SnnError('OPTION_INVALID', { message: `unknown ${what} ${JSON.stringify(value)} (valid: ${valid.join(', ')})`, at });
}

/** Most intra-op threads asked for (a guard against a typo such as 2000 for 2). */
export const MAX_THREADS = 1024;

/** The one parser of `--threads`, `SNNCONVERT_THREADS` and `setThreads`: threads onnxruntime runs one operator on. */
export function parseThreads(value: unknown, at = '--threads'): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new SnnError('OPTION_INVALID', { message: `threads must be a positive integer (1–${MAX_THREADS}), got ${JSON.stringify(value)}`, at, hint: 'give the number of CPU cores to use, e.g. 4; leave it out for every physical core' });
  }
  return n;
}
