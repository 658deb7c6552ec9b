// `snnconvert inspect <bundle>`: validate a bundle and summarise recipe, T, passes, neuron sites, thresholds, sizes.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { FILES } from '../bundle/format.js';
import { defaultExecution, pickForm } from '../bundle/forms.js';
import { readBundle } from '../bundle/read.js';
import { nafMax } from '../ops/spike-code.js';
import { autoCandidates, type Device } from '../runtime/device.js';
import { probePlacement, summarizePlacement, type Placement } from '../runtime/placement.js';
import { parseDevice, printJson } from './common.js';

export function registerInspect(program: Command): void {
  program.command('inspect')
    .description('validate a .snn bundle (hashes included) and summarise it')
    .argument('<bundle>', '.snn bundle folder')
    .option('--device <device>', 'also show which nodes each execution provider runs on this device (webgpu, cuda, cpu, auto)')
    .option('--json', 'print JSON on stdout')
    .action(async (path: string, o: Record<string, unknown>) => {
      const device = o['device'] === undefined ? null : placementDevice(parseDevice(o['device'] as string));
      const b = readBundle(path);
      // The form loadBundle runs on this device (on WebGPU: the portable-rounding one where stored).
      const form = pickForm(b.forms, { execution: defaultExecution(b.forms), spikes: false, portable: device === 'webgpu' })!;
      const placement = device === null ? null : {
        device,
        snn: probePlacement(join(b.path, form.file), device),
        ann: probePlacement(join(b.path, FILES.annModel), device),
      };
      const sizes = Object.fromEntries(Object.keys(b.meta.files).map((f) => [f, statSync(join(b.path, f)).size]));
      const total = Object.values(sizes).reduce((a, s) => a + s, 0);
      const summary = {
        path: b.path, valid: true, recipe: b.meta.recipe, timesteps: b.timesteps, headroom: b.graph.spiking?.headroom ?? 0, arch: b.meta.source.arch, source: b.meta.source.id,
        passes: b.meta.passes.map((p) => ({ name: p.name, matched: p.matched.length })),
        calibration: b.meta.calibration,
        neurons: b.meta.neurons.map(({ output: _o, ...n }) => n),
        forms: b.forms,
        sizes, totalBytes: total,
        ...(placement ? { placement } : {}),
      };
      if (o['json']) { printJson(summary); return; }
      const lines = [
        `${b.path}: valid (all ${Object.keys(b.meta.files).length} files match their sha256)`,
        `source ${b.meta.source.id} (${b.meta.source.arch}), converter ${b.meta.converterVersion}, created ${b.meta.created}`,
        `recipe ${b.meta.recipe}, T=${b.timesteps}${b.graph.spiking?.headroom ? ` (${b.graph.spiking.headroom} headroom digit${b.graph.spiking.headroom > 1 ? 's' : ''}: θ maps to M_${b.timesteps - b.graph.spiking.headroom}, values up to ${(nafMax(b.timesteps) / nafMax(b.timesteps - b.graph.spiking.headroom)).toFixed(2)}·θ are coded)` : ''}, code ${b.graph.spiking?.code ?? "rate"}, runtime ${b.graph.spiking?.code === "weighted" ? "closed form (model.onnx), step-by-step reference with --simulate steps" : "step by step"}`,
        `forms: ${b.forms.map((f) => `${f.file} (${f.execution}${f.spikes ? ', spikes' : ''}${f.rounding === 'portable' ? ', portable rounding' : ''})`).join(', ')}`,
        `passes: ${b.meta.passes.map((p) => `${p.name} (${p.matched.length})`).join(' → ')}`,
        `calibration: ${b.meta.calibration.samples} × ${b.meta.calibration.length} tokens, statistic ${b.meta.calibration.statistic}${b.meta.calibration.text ? `, text ${b.meta.calibration.text}` : ''}${b.meta.calibration.source ? ` (${b.meta.calibration.source})` : ''}${b.meta.calibration.context ? `, positions 0–${(b.meta.calibration.positionsCovered ?? 0) - 1} of ${b.meta.calibration.context}${b.meta.calibration.uncoveredPositions ? ` (${b.meta.calibration.uncoveredPositions} NOT calibrated)` : ''}` : ''}`,
        `neuron sites (${b.meta.neurons.length}):`,
        '  site                              kind      levels  channels   θ min     θ mean    θ max',
        ...b.meta.neurons.map((n) => `  ${n.site.padEnd(34)}${n.kind.padEnd(10)}${String(n.levels).padEnd(8)}${String(n.channels).padEnd(11)}${n.min.toFixed(4).padEnd(10)}${n.mean.toFixed(4).padEnd(10)}${n.max.toFixed(4)}`),
        `sizes: ${Object.entries(sizes).map(([f, s]) => `${f} ${formatBytes(s)}`).join(', ')}; total ${formatBytes(total)}`,
        ...(placement ? formatPlacement(placement.device, { [`SNN ${form.file}`]: placement.snn, [`ANN ${FILES.annModel}`]: placement.ann }) : []),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** `auto` shows the device auto would try first after CUDA (placement needs a concrete provider). */
function placementDevice(choice: ReturnType<typeof parseDevice>): Device {
  return choice === 'auto' ? autoCandidates().find((d) => d !== 'cuda') ?? 'cpu' : choice;
}

/** Per model: node counts per provider, then every node that runs on the CPU instead of the device. */
function formatPlacement(device: Device, models: Record<string, readonly Placement[]>): string[] {
  const lines = [`placement on ${device} (onnxruntime's session log):`];
  for (const [label, placements] of Object.entries(models)) {
    lines.push(`  ${label}:`, ...summarizePlacement(placements).map((l) => `    ${l}`));
    const onCpu = device === 'cpu' ? [] : placements.filter((p) => p.provider === 'CPUExecutionProvider').flatMap((p) => p.nodes);
    if (onCpu.length > 0) lines.push(`    on CPU: ${onCpu.map((n) => `${n.op} ${n.name}`).join(', ')}`);
  }
  return lines;
}
