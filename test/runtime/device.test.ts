// The device layer without a GPU: parsing --device, auto's candidates, placement logs, and device K/V blocks' bookkeeping.
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { autoCandidates, parseDevice } from '../../src/runtime/device.js';
import { DeviceKv, disposeUnused, hostBlocks } from '../../src/runtime/device-kv.js';
import { parsePlacements, summarizePlacement } from '../../src/runtime/placement.js';
import { snnErrorOf } from '../helpers.js';

describe('parseDevice', () => {
  it('takes cpu, webgpu, cuda and auto; nothing given is cpu', () => {
    for (const d of ['cpu', 'webgpu', 'cuda', 'auto']) expect(parseDevice(d)).toBe(d);
    expect(parseDevice(undefined)).toBe('cpu');
  });

  it('rejects anything else with OPTION_INVALID listing the valid devices, at the flag', () => {
    const e = snnErrorOf(() => parseDevice('gpu'));
    expect(e.code).toBe('OPTION_INVALID');
    expect(e.message).toContain('cpu, webgpu, cuda, auto');
    expect(e.at).toBe('--device');
    expect(snnErrorOf(() => parseDevice(3, 'device')).at).toBe('device');
  });
});

describe('auto', () => {
  it('tries CUDA, then WebGPU only when a hardware GPU is present (never the slower software adapter), then the CPU', () => {
    expect(autoCandidates(true)).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(autoCandidates(false)).toEqual(['cuda', 'cpu']);
  });
});

// Lines as onnxruntime 1.30 logs them at verbose level (timestamps shortened).
const LOG = [
  '2026-11-30 13:04:30.0 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements',
  '2026-11-30 13:04:30.0 [V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2',
  '2026-11-30 13:04:30.0 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   Shape (Shape/Shape_29)',
  '2026-11-30 13:04:30.0 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   Round (h.0.neuron/Round_9)',
  '2026-11-30 13:04:30.0 [V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 3',
  '2026-11-30 13:04:30.0 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   MatMul (h.0.attn.c_attn/MatMul_4)',
  '2026-11-30 13:04:30.0 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   MatMul (h.0.mlp/MatMul_9)',
  '2026-11-30 13:04:30.0 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   Add (embed/Add_2)',
  '2026-11-30 13:04:30.1 [W:onnxruntime:, session_state.cc:1397 VerifyEachNodeIsAssignedToAnEp] Some nodes were not assigned to the preferred execution providers',
].join('\n');

describe('parsePlacements', () => {
  it('reads each provider with its nodes from the verbose session log', () => {
    const p = parsePlacements(LOG);
    expect(p.map((x) => [x.provider, x.count])).toEqual([['CPUExecutionProvider', 2], ['WebGpuExecutionProvider', 3]]);
    expect(p[0]!.nodes).toEqual([{ op: 'Shape', name: 'Shape/Shape_29' }, { op: 'Round', name: 'h.0.neuron/Round_9' }]);
    expect(summarizePlacement(p)).toEqual(['CPU: 2 nodes (Round 1, Shape 1)', 'WebGpu: 3 nodes (MatMul 2, Add 1)']);
  });

  it('reads the one-provider form, which logs only a count', () => {
    const p = parsePlacements('x VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [CPUExecutionProvider]. Number of nodes: 171');
    expect(p).toEqual([{ provider: 'CPUExecutionProvider', count: 171, nodes: [] }]);
    expect(summarizePlacement(p)).toEqual(['CPU: 171 nodes (all)']);
  });
});

/** A [1, H, N, D] tensor whose value at (h, n, d) is h·1000 + n·10 + d (readable slices). */
function kvTensor(H: number, N: number, D: number): ort.Tensor {
  const data = new Float32Array(H * N * D);
  for (let h = 0; h < H; h++) for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) data[(h * N + n) * D + d] = h * 1000 + n * 10 + d;
  return new ort.Tensor('float32', data, [1, H, N, D]);
}

describe('DeviceKv', () => {
  it('a truncated view reads back exactly the first tokens of every head', async () => {
    const kv = DeviceKv.wrap(kvTensor(2, 5, 3)).truncate(2);
    expect(kv.length).toBe(2 * 2 * 3);
    expect(Array.from(await kv.host())).toEqual([0, 1, 2, 10, 11, 12, 1000, 1001, 1002, 1010, 1011, 1012]);
    const fed = await kv.feed();
    expect(fed.dims).toEqual([1, 2, 2, 3]);
    expect(Array.from(fed.data as Float32Array)).toEqual(Array.from(await kv.host()));
  });

  it('a whole block is fed as the very tensor it wraps (no host copy)', async () => {
    const t = kvTensor(1, 4, 2);
    expect(await DeviceKv.wrap(t).feed()).toBe(t);
    const [a, b] = await hostBlocks([DeviceKv.wrap(t), new Float32Array([7])]);
    expect(Array.from(a!)).toEqual(Array.from(t.data as Float32Array));
    expect(Array.from(b!)).toEqual([7]);
  });

  it('disposeUnused frees a retired tensor once, and never one that a live block (or view) still uses', () => {
    const freed: string[] = [];
    const fake = (name: string) => ({ dims: [1, 1, 4, 2], dispose: () => { freed.push(name); } }) as unknown as ort.Tensor;
    const shared = DeviceKv.wrap(fake('shared'));
    const lone = DeviceKv.wrap(fake('lone'));
    disposeUnused([shared, lone, lone.truncate(2), new Float32Array(3)], [shared.truncate(1)]);
    expect(freed).toEqual(['lone']);
  });
});
