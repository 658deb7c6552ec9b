// `snnconvert [convert] [model]`: convert a model into a .snn bundle.
import type { Command } from 'commander';
import { convert } from '../convert.js';
import { writeSpikeReport } from '../report/write.js';
import { intOption, printJson } from './common.js';
import { createProgress } from './progress.js';
import { removeTempsOnSignal } from '../util/temp-paths.js';

export function registerConvert(program: Command): void {
  program.command('convert', { isDefault: true })
    .description('convert a model (HF folder, hub id or the embedded default) into a spiking .snn bundle')
    .argument('[model]', 'HF model folder, .onnx export or hub id (ORG/NAME); default: the embedded Shakespeare GPT-2')
    .option('-t, --timesteps <T>', 'timesteps per token (default: 8 for the weighted code, of which 1 headroom digit; 16 for rate)', intOption('--timesteps'))
    .option('-r, --recipe <recipe>', 'faithful | stac | exact', 'faithful')
    .option('-c, --code <code>', 'spike code: weighted (signed-digit, step t weighs 2^(T-1-t)) | rate', 'weighted')
    .option('-o, --out <path>', 'output bundle (default: <model name>.snn)')
    .option('--force', 'replace an existing output bundle')
    .option('--calib-text <file>', "calibration text: your model's own kind of text is the best choice (default: text sampled from the model itself, see --calib-source)")
    .option('--calib-source <source>', 'without --calib-text: model (default: text sampled from the source model, seeded by --calib-seed) | corpus (the shipped TinyShakespeare text)')
    .option('--calib-sampler <linears>', 'model-sampled windows longer than 256 tokens (joined documents): int8 (default: documents drawn through 8-bit linears, sampling 1.4–1.9× as fast) | float (through the float model itself); shorter windows are always drawn by the float model')
    .option('--calib-seed <S>', 'seed of the calibration windows (and of model-sampled text)', intOption('--calib-seed', 0), 0)
    .option('--calib-samples <N>', 'calibration windows (default 32; fewer, at least 8, beyond 512-token windows: about 16 384 tokens)', intOption('--calib-samples'))
    .option('--calib-length <L>', 'tokens per calibration window (default: the whole context, within a 1 GiB window budget)', intOption('--calib-length'))
    .option('--headroom <H>', 'weighted code: digits of the T above the calibrated range; each doubles the range a value can reach before it clips (default 1)', intOption('--headroom', 0))
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
      removeTempsOnSignal(); // a Ctrl-C leaves no staged weights or half-written bundle behind
      const progress = createProgress({ quiet: Boolean(o['quiet']) || Boolean(o['json']) });
      const summary = await convert(model, {
        ...(o['timesteps'] !== undefined ? { timesteps: o['timesteps'] as number } : {}),
        recipe: o['recipe'] as string,
        code: o['code'] as string,
        ...(o['out'] ? { out: o['out'] as string } : {}),
        force: Boolean(o['force']),
        calibration: {
          ...(o['calibText'] ? { text: o['calibText'] as string } : {}),
          ...(o['calibSamples'] !== undefined ? { samples: o['calibSamples'] as number } : {}),
          seed: o['calibSeed'] as number,
          ...(o['calibSource'] ? { source: o['calibSource'] as string } : {}),
          ...(o['calibSampler'] ? { sampler: o['calibSampler'] as string } : {}),
          specialTokens: o['specialTokens'] !== false,
          ...(o['calibLength'] ? { length: o['calibLength'] as number } : {}),
        },
        ...(o['threshold'] ? { threshold: o['threshold'] as string } : {}),
        ...(o['headroom'] !== undefined ? { headroom: o['headroom'] as number } : {}),
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
      else {
        const c = summary.calibration;
        process.stdout.write(`wrote ${summary.bundlePath} (recipe ${summary.recipe}, code ${summary.code}, T=${summary.timesteps}${summary.headroom ? ` with ${summary.headroom} headroom digit${summary.headroom > 1 ? 's' : ''}` : ''}, ${summary.neuronSites} neuron sites, ${summary.seconds.toFixed(1)} s)\n`);
        process.stdout.write(`calibration: ${c.tokens} tokens in ${c.samples} windows, positions 0–${c.length - 1} of ${c.context}${c.uncovered ? ` (${c.uncovered} NOT calibrated)` : ''}, ${c.seconds.toFixed(1)} s, ~${(c.windowBytes / (1 << 20)).toFixed(0)} MiB per window\n`);
      }
    });
}
