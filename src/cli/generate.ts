// `snnconvert generate [model] --prompt TEXT`: continue a prompt, streaming tokens to stdout as they come.
import type { Command } from 'commander';
import { SnnError } from '../errors/index.js';
import { checkGenerateOptions, type GenerateOptions } from '../runtime/generate.js';
import type { RunnableModel } from '../runtime/model.js';
import { TemporalSpikeProcessor, type OverflowPolicy } from '../runtime/tsp.js';
import { deviceOption, floatOption, intOption, openModel, simulateOption } from './common.js';
import type { DeviceChoice, Simulation } from '../options/values.js';
import { promptOf } from './prompt.js';
import { promptText } from '../runtime/prompt-text.js';

/** The options `generate` and `chat` share: model opening, sampling, context policy. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--max-new-tokens <N>', 'tokens to generate at most', intOption('--max-new-tokens'), 64)
    .option('--temperature <t>', 'sampling temperature; 0 = greedy', floatOption('--temperature'), 0.7)
    .option('--top-k <k>', 'sample from the k most likely tokens; 0 = off', intOption('--top-k', 0), 0)
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1]; 1 = off', floatOption('--top-p'), 1)
    .option('--repetition-penalty <r>', 'HF repetition penalty; 1 = off', floatOption('--repetition-penalty'), 1)
    .option('--seed <n>', 'PRNG seed: the same seed gives the same text', intOption('--seed', 0), 0)
    .option('--stop <text>', 'stop when the text contains this (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--overflow <policy>', 'when the context is full: error | slide (drop the oldest tokens, rebuild the cache)', 'slide')
    .option('--ann-only', 'run the source ANN instead of the SNN (needed for a HF model)')
    .option('--tokenizer <dir>', 'for an .onnx file: the folder with its config.json and tokenizer')
    .option('--no-special-tokens', 'do not add the special tokens (e.g. BOS) the tokenizer adds by default')
        .addOption(deviceOption())
    .addOption(simulateOption())
    .option('--revision <rev>', 'hub revision')
    .option('--offline', 'never touch the network')
    .option('-q, --quiet', 'no summary on stderr');
}

/** Opens `<model>` and a processor over it as the shared options say. */
export async function openProcessor(model: string | undefined, o: Record<string, unknown>): Promise<TemporalSpikeProcessor> {
  const annOnly = Boolean(o['annOnly']);
  const m: RunnableModel = await openModel(model, { annOnly, device: o['device'] as DeviceChoice, ...(o['simulate'] ? { simulate: o['simulate'] as Simulation } : {}), ...(o['revision'] ? { revision: o['revision'] as string } : {}), offline: Boolean(o['offline']), ...(o['tokenizer'] ? { tokenizer: o['tokenizer'] as string } : {}) });
  const overflow = o['overflow'] as string;
  if (overflow !== 'error' && overflow !== 'slide') throw new SnnError('OPTION_INVALID', { message: `unknown overflow policy ${JSON.stringify(overflow)} (valid: error, slide)`, at: '--overflow' });
  return new TemporalSpikeProcessor(m, { overflow: overflow as OverflowPolicy, ann: annOnly || m.timesteps === null });
}

/** The sampling options from the command line, checked up front so an error names the flag. */
export function samplingFrom(o: Record<string, unknown>): GenerateOptions {
  const opts: GenerateOptions = {
    maxNewTokens: o['maxNewTokens'] as number,
    temperature: o['temperature'] as number,
    topK: o['topK'] as number,
    topP: o['topP'] as number,
    repetitionPenalty: o['repetitionPenalty'] as number,
    seed: o['seed'] as number,
    ...(o['stop'] ? { stop: o['stop'] as string[] } : {}),
  };
  try {
    checkGenerateOptions(opts);
  } catch (e) {
    if (!(e instanceof SnnError) || !e.at) throw e;
    const flag = `--${e.at.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new SnnError(e.code, { message: e.message.replace(/^[^:]*: /, '').replace(e.at, flag), at: flag, cause: e });
  }
  return opts;
}

/** What ran, for the stderr summary: "SNN T=16 (faithful)" or "ANN". */
export function describeRun(tsp: TemporalSpikeProcessor): string {
  const m = tsp.model;
  return tsp.ann ? 'ANN' : `SNN T=${String(m.timesteps)} (${String(m.recipe)})`;
}

export function registerGenerate(program: Command): void {
  addRunOptions(program.command('generate')
    .description('continue a prompt, streaming the generated text to stdout')
    .argument('[model]', '.snn bundle, HF folder or hub id (default: the embedded model, with --ann-only)')
    .option('--prompt <text>', 'the text to continue')
    .option('--prompt-file <file>', 'read the text to continue from a UTF-8 file'))
    .action(async (model: string | undefined, o: Record<string, unknown>) => {
      const prompt = promptOf(o);
      const tsp = await openProcessor(model, o);
      const ids = tsp.model.tokenizer.encodeInput(promptText(tsp.model.tokenizer, prompt, { maxTokens: tsp.maxContextLength, overflow: tsp.overflow }), { specialTokens: o['specialTokens'] !== false });
      const started = performance.now();
      let count = 0;
      // The prompt first, so stdout reads as the whole text (as llama.cpp and HF pipelines print it).
      let last = prompt;
      process.stdout.write(last);
      try {
        for await (const piece of tsp.generate(ids, samplingFrom(o))) {
          process.stdout.write(piece.text);
          if (piece.text) last = piece.text;
          count += 1;
        }
      } finally {
        await tsp.model.release();
      }
      if (!last.endsWith('\n')) process.stdout.write('\n');
      const seconds = (performance.now() - started) / 1000;
      if (!o['quiet']) process.stderr.write(`[${count} tokens in ${seconds.toFixed(2)} s, ${(count / seconds).toFixed(1)} tok/s, ${describeRun(tsp)}]\n`);
    });
}
