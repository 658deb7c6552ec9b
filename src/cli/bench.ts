// `snnconvert bench <bundle>`: ANN vs SNN prefill and decode tokens/s in one run, ratios, and a timed re-conversion.
import type { Command } from 'commander';
import { runBench, type BenchLength, type BenchResult } from '../bench/bench.js';
import { DEVICE_HELP, deviceOption, intOption, printJson } from './common.js';
import type { DeviceChoice } from '../options/values.js';
import { createProgress } from './progress.js';

export function registerBench(program: Command): void {
  program.command('bench')
    .description('benchmark a .snn bundle on this machine: conversion time and peak RSS; ANN vs SNN prefill and decode tokens/s at several sequence lengths')
    .argument('<bundle>', '.snn bundle folder')
    .option('--lengths <list>', 'sequence lengths (capped at the model context)', '32,128,512')
    .option('--reps <N>', 'timed repetitions per measurement (within --budget seconds)', intOption('--reps'), 3)
    .option('--budget <seconds>', 'stop repeating a measurement after this many seconds', intOption('--budget'), 10)
    .option('--decode-steps <N>', 'single-token decode calls timed per length', intOption('--decode-steps'), 16)
    .option('--source <model>', 'model to re-convert for the conversion figures (default: the bundle\'s recorded source)')
    .option('--no-conversion', 'skip the conversion measurement')
    .option('--text <file>', 'text the token ids come from (default: the shipped held-out text)')
    .addOption(deviceOption(`also measure on this device, after the CPU: ${DEVICE_HELP}`))
    .option('--json', 'print the result as JSON on stdout')
    .option('-q, --quiet', 'no progress output')
    .action(async (bundle: string, o: Record<string, unknown>) => {
      const device = o['device'] as DeviceChoice;
      const progress = createProgress({ quiet: Boolean(o['quiet']) || Boolean(o['json']) });
      const r = await runBench(bundle, {
        lengths: String(o['lengths']).split(',').map((s) => intOption('--lengths', 2)(s)),
        reps: o['reps'] as number,
        budgetSeconds: o['budget'] as number,
        decodeSteps: o['decodeSteps'] as number,
        source: o['conversion'] === false ? false : (o['source'] as string | undefined) ?? undefined,
        ...(o['text'] ? { text: o['text'] as string } : {}),
        device,
        onProgress: (m) => progress.note(`[bench] ${m}`),
      });
      progress.done();
      if (o['json']) printJson(r);
      else process.stdout.write(formatBench(r));
    });
}

function formatConversion(c: BenchResult['conversion']): string {
  if ('skipped' in c) return `conversion: skipped (${c.skipped})`;
  return `conversion: ${c.seconds.toFixed(1)} s (of which SpikeScope report ${c.reportSeconds?.toFixed(1) ?? '-'} s), peak RSS ${(c.peakRssBytes / 2 ** 20).toFixed(0)} MiB`;
}

function formatLengths(lengths: readonly BenchLength[]): string[] {
  const tps = (x: number) => x.toFixed(1).padStart(9);
  return [
    '  seq   prefill tok/s: ANN       SNN   SNN/ANN   decode tok/s: ANN       SNN   SNN/ANN',
    ...lengths.map((l) => `${String(l.seq).padStart(5)}${l.capped ? '*' : ' '}              ${tps(l.prefill.ann.tokensPerSecond)} ${tps(l.prefill.snn.tokensPerSecond)}  ${l.prefill.ratio.toFixed(4)}              ${tps(l.decode.ann.tokensPerSecond)} ${tps(l.decode.snn.tokensPerSecond)}  ${l.decode.ratio.toFixed(4)}`),
  ];
}

export function formatBench(r: BenchResult): string {
  const devices = r.devices ?? [{ device: 'cpu', adapter: 'CPU execution provider', lengths: r.lengths }];
  const lines = [
    `${r.bundle}: ${r.model.arch} ${r.model.recipe} T=${r.model.timesteps}, context ${r.model.contextLength}`,
    `machine: ${r.machine.cpuModel}, ${r.machine.nproc} CPUs, node ${r.machine.node}, onnxruntime ${r.machine.onnxruntime}; load ${r.machine.loadAverage.start.map((x) => x.toFixed(2)).join(' ')}`,
    formatConversion(r.conversion),
    ...devices.flatMap((d) => [
      ...(devices.length > 1 ? [`${d.device}: ${d.adapter}`] : []),
      ...('failed' in d ? [`  failed: ${d.failed}`] : formatLengths(d.lengths)),
    ]),
    ...(r.lengths.some((l) => l.capped) ? [`* capped at the model context (${r.model.contextLength}): requested ${r.lengths.filter((l) => l.capped).flatMap((l) => l.requested.filter((q) => q > l.seq)).join(', ')}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}
