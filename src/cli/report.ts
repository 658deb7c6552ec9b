// `snnconvert report <bundle> [--text F]`: regenerate a bundle's SpikeScope report (spike.report/report.json + report.html).
import { join } from 'node:path';
import type { Command } from 'commander';
import { REPORT_DEFAULTS } from '../report/collect.js';
import { regenerateSpikeReport } from '../report/write.js';
import { REPORT_DIR, REPORT_HTML, REPORT_JSON } from '../report/types.js';
import { intOption, printJson } from './common.js';
import { createProgress } from './progress.js';
import { removeTempsOnSignal } from '../util/temp-paths.js';

export function registerReport(program: Command): void {
  program.command('report')
    .description('regenerate the SpikeScope report of a .snn bundle (spike counts, SOPs, energy proxy, raster, membrane, fidelity vs T, throughput)')
    .argument('<bundle>', '.snn bundle folder')
    .option('--text <file>', 'UTF-8 text to run (default: the shipped held-out TinyShakespeare split)')
    .option('--windows <N>', 'windows of text to count spikes and measure fidelity on, run one at a time', intOption('--windows'), REPORT_DEFAULTS.windows)
    .option('--window <N>', 'tokens per window, over which energy is counted (default: the model context, at most 1024)', intOption('--window', 2))
    .option('--sweep <list>', 'T values of the fidelity curve besides the bundle\'s own (default: none; e.g. 4,6,8,12,16)')
    .option('--lengths <list>', 'prefill lengths of the throughput curve (capped at the context)', REPORT_DEFAULTS.lengths.join(','))
    .option('--report-memory <MiB>', 'memory the report may use beyond the weights; refused before any run if one window does not fit', intOption('--report-memory'))
    .option('--site <site>', 'neuron site of the raster and membrane traces (default: the middle block\'s MLP activation)')
    .option('--json', 'print the report\'s totals as JSON on stdout')
    .option('-q, --quiet', 'no progress output')
    .action(async (bundle: string, o: Record<string, unknown>) => {
      removeTempsOnSignal();
      const progress = createProgress({ quiet: Boolean(o['quiet']) || Boolean(o['json']) });
      const list = (flag: string, v: unknown) => String(v).split(',').map((s) => intOption(flag)(s));
      const report = await regenerateSpikeReport(bundle, {
        ...(o['text'] ? { text: o['text'] as string } : {}),
        windows: o['windows'] as number,
        ...(o['window'] ? { window: o['window'] as number } : {}),
        ...(o['sweep'] ? { sweep: list('--sweep', o['sweep']) } : {}),
        lengths: list('--lengths', o['lengths']),
        ...(o['site'] ? { site: o['site'] as string } : {}),
        ...(o['reportMemory'] !== undefined ? { memoryBudget: (o['reportMemory'] as number) * 1024 * 1024 } : {}),
        onProgress: (m, d, t) => (d !== undefined && t !== undefined ? progress.update(m, d, t) : progress.note(`[report] ${m}`)),
      });
      progress.done();
      const dir = join(bundle, REPORT_DIR);
      if (o['json']) { printJson({ dir, totals: report.totals, fidelity: report.fidelity.rows, membraneCheck: report.membrane?.check ?? null }); return; }
      const t = report.totals;
      process.stdout.write(`wrote ${join(dir, REPORT_JSON)} and ${REPORT_HTML} (${t.tokens} tokens, T=${report.model.timesteps})\n`
        + `firing rate ${(100 * t.firingRate).toFixed(2)}%, sparsity ${(100 * t.sparsity).toFixed(2)}%, non-binary ${(100 * t.nonBinaryShare).toFixed(2)}%; `
        + `per token: ${t.perToken.snn.sops.toExponential(3)} SOPs, ${t.perToken.snn.macs.toExponential(3)} float MACs (ANN ${t.perToken.ann.macs.toExponential(3)} MACs); `
        + `clipped trains ${t.trainsClipped}; energy proxy SNN/ANN ${t.perToken.energy.ratio.toFixed(3)}\n`);
    });
}
