// Which execution provider takes each node of a model: read from onnxruntime's verbose session log.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { SnnError } from '../errors/index.js';
import { deviceHint, type Device } from './device.js';

/** The nodes one execution provider runs (ONNX op type and node name, in graph order). */
export interface Placement {
  readonly provider: string;
  readonly count: number;
  /** Empty when one provider runs all nodes (onnxruntime then logs only the count). */
  readonly nodes: readonly { readonly op: string; readonly name: string }[];
}

const HEADER = /(?:Node\(s\)|All nodes) placed on \[(\w+)\]\. Number of nodes: (\d+)/;
const NODE = /VerifyEachNodeIsAssignedToAnEp\] {3}(\S+) \((.*)\)\s*$/;

/** Parses the "Node placements" block that onnxruntime logs at verbose level when a session is built. */
export function parsePlacements(log: string): Placement[] {
  const out: { provider: string; count: number; nodes: { op: string; name: string }[] }[] = [];
  for (const line of log.split('\n')) {
    const header = HEADER.exec(line);
    if (header) { out.push({ provider: header[1]!, count: Number(header[2]), nodes: [] }); continue; }
    const node = NODE.exec(line);
    if (node && out.length > 0) out[out.length - 1]!.nodes.push({ op: node[1]!, name: node[2]! });
  }
  return out;
}

// The child builds one session with verbose logging; onnxruntime writes its log to the child's stderr,
// which JavaScript cannot capture in-process.
const CHILD = `
const [ortPath, model, ep] = process.argv.slice(1);
const ort = require(ortPath);
ort.InferenceSession.create(model, { executionProviders: [ep], logSeverityLevel: 0, logVerbosityLevel: 0 })
  .then((s) => s.release())
  .catch((e) => { process.stderr.write('\\nSNN_PLACEMENT_FAILED ' + String(e && e.message) + '\\n'); process.exit(3); });
`;

/**
 * Builds a session for `modelPath` on `device` in a child process and returns where each node runs. A
 * node the device's provider does not take falls back to the CPU provider (onnxruntime also puts
 * shape arithmetic on the CPU on purpose: it feeds host-side shape logic).
 */
export function probePlacement(modelPath: string, device: Device): Placement[] {
  const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
  const r = spawnSync(process.execPath, ['-e', CHILD, ortPath, modelPath, device], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 300_000 });
  const log = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const failed = /SNN_PLACEMENT_FAILED (.*)/.exec(log);
  if (r.status !== 0 || failed) {
    throw new SnnError('DEVICE_UNAVAILABLE', { message: `onnxruntime-node could not build a ${device} session: ${failed?.[1] ?? r.error?.message ?? `exit ${String(r.status)}`}`, at: modelPath, hint: deviceHint(device) });
  }
  const placements = parsePlacements(log);
  if (placements.length === 0) throw new SnnError('RUN_FAILED', { message: 'onnxruntime logged no node placements', at: modelPath, hint: 'this onnxruntime-node build may log differently; report it with its version' });
  return placements;
}

/** One line per provider: how many nodes, and the op types with counts (most first). */
export function summarizePlacement(placements: readonly Placement[]): string[] {
  return placements.map((p) => {
    const counts = new Map<string, number>();
    for (const n of p.nodes) counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
    const ops = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, n]) => `${op} ${n}`).join(', ');
    return `${p.provider.replace(/ExecutionProvider$/, '')}: ${p.count} nodes${ops ? ` (${ops})` : ' (all)'}`;
  });
}
