// `snnconvert [convert] [model]`: convert a model into a .snn bundle.
import type { Command } from 'commander';
import { convert } from '../convert.js';
import { writeSpikeReport } from '../report/write.js';
import { intOption, printJson } from './common.js';
import { createProgress } from './progress.js';

export function registerConvert(program: Command): void {
  program.command('convert', { isDefault: true })
    .description('convert a model (HF folder, hub id or the embedded default) into a spiking .snn bundle')
    .argument('[model]', 'HF model folder, .onnx export or hub id (ORG/NAME); default: the embedded Shakespeare GPT-2')
    .option('-t, --timesteps <T>', 'timesteps per token (default: 7 for the weighted code, 16 for rate)', intOption('--timesteps'))
    .option('-r, --recipe <recipe>', 'faithful | stac | exact', 'faithful')
    .option('-c, --code <code>', 'spike code: weighted (signed-digit, step t weighs 2^(T-1-t)) | rate', 'weighted')
    .option('-o, --out <path>', 'output bundle (default: <model name>.snn)')
    .option('--force', 'replace an existing output bundle')
    .option('--calib-text <file>', 'calibration text (default: the shipped TinyShakespeare training split)')
    .option('--calib-samples <N>', 'calibration windows', intOption('--calib-samples'), 32)
    .option('--calib-length <L>', 'tokens per calibration window (default: min(128, context))', intOption('--calib-length'))
    .option('--levels <spec>', 'rate code only: spike levels per step, N for every site or suffix=k,… (default 1)')
    .option('--threshold <mode>', 'per-channel threshold statistic: max | p99 | p99.9 | p99.99 (default: max for weighted, p99.9 for rate)')
    .option('--no-special-tokens', 'calibrate without the special tokens (e.g. BOS) the tokenizer adds by default')
    .option('--revision <rev>', 'hub revision (branch, tag or commit)')
    .option('--offline', 'never touch the network (HF cache only)')
    .option('--tokenizer <dir>', 'for an .onnx file: the folder with its config.json and tokenizer (default: its folder or the one above)')
    .option('--allow-nonfinite', 'convert even if weights hold NaN/Inf (warns)')
    .option('--no-report', 'skip the SpikeScope report (spike.report/; regenerate it later with snnconvert report)')
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'no progress output')
    .action(async (model: string | undefined, o: Record<string, unknown>) => {
      const progress = createProgress({ quiet: Boolean(o['quiet']) || Boolean(o['json']) });
      const summary = await convert(model, {
        ...(o['timesteps'] !== undefined ? { timesteps: o['timesteps'] as number } : {}),
        recipe: o['recipe'] as string,
        code: o['code'] as string,
        ...(o['out'] ? { out: o['out'] as string } : {}),
        force: Boolean(o['force']),
        calibration: {
          ...(o['calibText'] ? { text: o['calibText'] as string } : {}),
          samples: o['calibSamples'] as number,
          specialTokens: o['specialTokens'] !== false,
          ...(o['calibLength'] ? { length: o['calibLength'] as number } : {}),
        },
        ...(o['threshold'] ? { threshold: o['threshold'] as string } : {}),
        ...(o['levels'] ? { levels: o['levels'] as string } : {}),
        ...(o['revision'] ? { revision: o['revision'] as string } : {}),
        offline: Boolean(o['offline']),
        allowNonFinite: Boolean(o['allowNonfinite']),
        ...(o['tokenizer'] ? { tokenizer: o['tokenizer'] as string } : {}),
        ...(o['report'] === false ? {} : {
          addExtra: async (dir: string) => {
            await writeSpikeReport(dir, { onProgress: (m, d, t) => (d !== undefined && t !== undefined ? progress.update(`report: ${m}`, d, t) : progress.note(`[report] ${m}`)) });
          },
        }),
        onProgress: (p) => (p.done !== undefined && p.total !== undefined ? progress.update(p.message, p.done, p.total) : progress.note(`[${p.stage}] ${p.message}`)),
      });
      progress.done();
      if (o['json']) printJson(summary);
      else process.stdout.write(`wrote ${summary.bundlePath} (recipe ${summary.recipe}, code ${summary.code}, T=${summary.timesteps}, ${summary.neuronSites} neuron sites, ${summary.seconds.toFixed(1)} s)\n`);
    });
}
