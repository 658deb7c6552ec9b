// Devices a bundle runs on: the names users type, onnxruntime's execution providers behind them, and `auto`.
import { existsSync, readdirSync } from 'node:fs';
import type { Device } from '../options/values.js';

export { DEVICE_CHOICES, parseDevice, type Device, type DeviceChoice } from '../options/values.js';

/**
 * True when the machine exposes a GPU device node (Linux DRM render node, NVIDIA, WSL). Without one, a
 * Vulkan adapter can only be a software one (Mesa llvmpipe), which runs slower than the CPU provider.
 */
export function hardwareGpuPresent(): boolean {
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return true;
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return process.platform === 'darwin' || process.platform === 'win32'; // Metal / D3D12: a GPU is always there
  }
}

/**
 * The devices `auto` tries, best first: CUDA (when its provider is installed), WebGPU when a hardware GPU
 * is present (never the software adapter: it is slower than the CPU), then the CPU.
 */
export function autoCandidates(gpu = hardwareGpuPresent()): Device[] {
  return gpu ? ['cuda', 'webgpu', 'cpu'] : ['cuda', 'cpu'];
}

/** How to get a device working, for DEVICE_UNAVAILABLE. */
export function deviceHint(device: Device): string {
  if (device === 'cuda') {
    return 'install the CUDA build (CUDA 12 and cuDNN 9 present): npm install-scripts approve onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node; or use --device cpu';
  }
  if (device === 'webgpu') {
    return 'WebGPU needs a Vulkan driver (Linux: the GPU vendor\'s, or Mesa ≥ 25 for the llvmpipe software adapter: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1); or use --device cpu';
  }
  return 'use --device cpu';
}

/** What ran the figures, for bench tables: a software adapter's timings are CPU timings, not GPU ones. */
export function adapterLabel(device: Device): string {
  if (device === 'cpu') return 'CPU execution provider';
  if (device === 'cuda') return 'CUDA execution provider';
  return hardwareGpuPresent()
    ? 'WebGPU execution provider (Dawn) on the hardware GPU'
    : 'WebGPU execution provider (Dawn) on a software adapter (Mesa llvmpipe, Vulkan on the CPU): not GPU figures';
}
