// `snnconvert eval <model> --text F`: perplexity of the ANN and the SNN, ratio, top-1 agreement, KL; a T sweep.
import type { Command } from 'commander';
import { SnnError } from '../errors/index.js';
import { parseTimesteps } from '../options/values.js';
import { evaluate, type EvaluateResult } from '../runtime/evaluate.js';
import { openGraphSession } from '../open/graph-session.js';
import { Bundle } from '../runtime/model.js';
import { readTextFile } from '../util/read-text-file.js';
import { deviceOption, intOption, openModel, printJson, simulateOption } from './common.js';
import type { DeviceChoice, Simulation } from '../options/values.js';
import { createProgress } from './progress.js';

/** The W8A8 integer ANN of a bundle's graph, evaluated against the same ANN on the same windows. */
async function evaluateInt8(m: unknown, ids: readonly number[], opts: Parameters<typeof evaluate>[2]): Promise<EvaluateResult> {
  if (!(m instanceof Bundle)) throw new SnnError('OPTION_INVALID', { message: '--int8 needs a .snn bundle', at: '--int8' });
  const session = await openGraphSession(m.contents.graph, 'snn', { quantized: 'w8a8' });
  try { return await evaluate(m, ids, { ...opts, snnSession: session }); } finally { await session.release(); }
}

export function registerEval(program: Command): void {
  program.command('eval')
    .description('perplexity of a bundle (ANN and SNN, ratio, top-1 agreement, KL) or of a HF model with --ann-only')
    .argument('[model]', '.snn bundle, HF folder or hub id (default: the embedded model, with --ann-only)')
    .requiredOption('--text <file>', 'UTF-8 text to evaluate on')
    .option('--window <N>', 'tokens per window (default: the model context)', intOption('--window', 2))
    .option('--stride <N>', 'tokens between window starts (default: the window)', intOption('--stride'))
    .option('--ann-only', 'evaluate only the source ANN')
    .option('--timesteps-sweep <list>', 'comma-separated T values: print the SNN/ANN ratio per T (e.g. 4,8,16,32,64)')
    .option('--max-windows <N>', 'evaluate only the first N windows', intOption('--max-windows'))
    .addOption(deviceOption())
    .addOption(simulateOption())
    .option('--int8', 'also evaluate the W8A8 integer ANN of the same bundle (INT8 weights per output channel, INT8 activations at the neuron sites)')
    .option('--revision <rev>', 'hub revision')
    .option('--offline', 'never touch the network')
    .option('--tokenizer <dir>', 'for an .onnx file: the folder with its config.json and tokenizer')
    .option('--no-special-tokens', 'do not add the special tokens (e.g. BOS) the tokenizer adds by default')
    .option('--json', 'print JSON on stdout')
    .option('-q, --quiet', 'no progress output')
    .action(async (model: string | undefined, o: Record<string, unknown>) => {
      const progress = createProgress({ quiet: Boolean(o['quiet']) });
      const m = await openModel(model, { annOnly: Boolean(o['annOnly']), device: o['device'] as DeviceChoice, ...(o['simulate'] ? { simulate: o['simulate'] as Simulation } : {}), ...(o['revision'] ? { revision: o['revision'] as string } : {}), offline: Boolean(o['offline']), ...(o['tokenizer'] ? { tokenizer: o['tokenizer'] as string } : {}) });
      const annOnly = Boolean(o['annOnly']) || m.timesteps === null;
      let ids: number[];
      ids = m.tokenizer.encodeInput(readTextFile(o['text'] as string, { what: 'evaluation text' }), { specialTokens: o['specialTokens'] !== false });
      const window = (o['window'] as number | undefined) ?? m.spec.maxPositions;
      const stride = (o['stride'] as number | undefined) ?? window;
      if (o['maxWindows']) ids = ids.slice(0, ((o['maxWindows'] as number) - 1) * stride + window);
      const base = { window, stride, onProgress: (d: number, t: number) => progress.update('eval', d, t) };
      const sweep = o['timestepsSweep'] as string | undefined;
      if (sweep) {
        if (!(m instanceof Bundle)) throw new SnnError('OPTION_INVALID', { message: '--timesteps-sweep needs a .snn bundle', at: '--timesteps-sweep' });
        // Every T is checked before any is computed: a T the code cannot run fails first, not last.
        // Other Ts are emitted here from graph.json: loaded on demand, so a plain eval runs the bundle's stored forms only.
        const [{ retarget }, { openGraphSession }] = await Promise.all([import('../calibrate/timesteps.js'), import('../open/graph-session.js')]);
        const graphs = sweep.split(',').map((s) => retarget(m.contents.graph, parseTimesteps(s.trim(), '--timesteps-sweep')));
        const rows: EvaluateResult[] = [];
        for (const graph of graphs) {
          const T = graph.spiking!.timesteps;
          const session = await openGraphSession(graph, 'snn', { device: m.device, exposeSaturation: graph.spiking!.code === 'weighted' });
          rows.push(await evaluate(m, ids, { ...base, snnSession: session, onProgress: (d, t) => progress.update(`T=${T}`, d, t) }));
          await session.release();
        }
        progress.done();
        if (o['json']) printJson({ recipe: m.recipe, ann: rows[0]!.ann, sweep: rows.map((r) => ({ timesteps: r.timesteps, kl: r.kl, top1_agreement: r.top1_agreement, ratio: r.ratio, snn: r.snn, clipped_share: r.clipped?.share ?? null })), tokens: rows[0]!.tokens });
        else {
          process.stdout.write(`recipe ${m.recipe}; ANN ppl ${rows[0]!.ann.ppl.toFixed(4)} on ${rows[0]!.tokens} tokens\n   T      KL   top-1   ratio   SNN ppl  clipped\n`);
          for (const r of rows) process.stdout.write(`${String(r.timesteps).padStart(4)}  ${formatKl(r.kl!)}  ${(r.top1_agreement! * 100).toFixed(1).padStart(5)}%  ${r.ratio!.toFixed(4)}  ${r.snn!.ppl.toFixed(4).padStart(8)}  ${r.clipped ? `${(100 * r.clipped.share).toFixed(3)} %` : '—'}\n`);
        }
        const last = rows.at(-1)?.clipped?.warning;
        if (last) process.stderr.write(`warning: ${last}\n`);
        return;
      }
      const r = await evaluate(m, ids, { ...base, annOnly });
      const int8 = o['int8'] ? await evaluateInt8(m, ids, { ...base, onProgress: (d, t) => progress.update('int8', d, t) }) : null;
      progress.done();
      await m.release();
      if (int8) process.stderr.write(`INT8 ANN (W8A8) ppl ${int8.snn!.ppl.toFixed(4)}  ratio ${int8.ratio!.toFixed(4)}  top-1 ${(int8.top1_agreement! * 100).toFixed(2)}%  KL ${int8.kl!.toFixed(5)}\n`);
      if (o['json']) printJson(int8 ? { ...r, int8: { ppl: int8.snn!.ppl, nll: int8.snn!.nll, ratio: int8.ratio, top1_agreement: int8.top1_agreement, kl: int8.kl } } : r);
      else if (!r.snn) process.stdout.write(`ANN perplexity ${r.ann.ppl.toFixed(4)} (${r.tokens} tokens, ${r.windows} windows of ${r.window})\n`);
      else {
        process.stdout.write(`KL ${formatKl(r.kl!)}  top-1 ${(r.top1_agreement! * 100).toFixed(2)}%  ratio ${r.ratio!.toFixed(4)}  (ANN ppl ${r.ann.ppl.toFixed(4)}, SNN ppl ${r.snn.ppl.toFixed(4)}; T=${r.timesteps}, ${r.tokens} tokens)\n`);
        if (r.clipped) {
          const top = [...r.clipped.sites].sort((a, b) => b.share - a.share).slice(0, 3).filter((x) => x.clipped > 0);
          process.stdout.write(`clipped ${(100 * r.clipped.share).toFixed(4)} % of neuron counts (calibration: ${(100 * r.clipped.calibrationShare).toFixed(2)} %)${top.length ? `; most at ${top.map((x) => `${x.site} ${(100 * x.share).toFixed(3)} %`).join(', ')}` : ''}\n`);
        }
      }
      if (r.clipped?.warning) process.stderr.write(`warning: ${r.clipped.warning}\n`);
    });
}

/** KL in nats: four decimals, or two significant digits below 0.001 (the faithful range). */
function formatKl(kl: number): string {
  return kl >= 1e-3 || kl === 0 ? kl.toFixed(4) : kl.toExponential(1);
}
