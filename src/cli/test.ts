// `snnconvert test <bundle>`: the multi-turn coherence suite; one verdict line per check (or JSON), exit code 1 when a check fails.
import type { Command } from 'commander';
import { DEFAULT_DIALOGUE_COUNT, DEFAULT_MAX_NLL_RATIO, DEFAULT_TOLERANCE, runCoherenceSuite } from '../coherence/suite.js';
import type { CoherenceReport } from '../coherence/types.js';
import { deviceOption, floatOption, intOption, openModel, printJson, simulateOption } from './common.js';
import type { DeviceChoice, Simulation } from '../options/values.js';
import { createProgress } from './progress.js';

export function registerTest(program: Command): void {
  program.command('test')
    .description('multi-turn coherence suite: position ids, attention masks, cached ≡ recomputed, NLL with vs without history and SNN/ANN, recall (reported)')
    .argument('<bundle>', '.snn bundle (or a HF folder / hub id with --ann-only)')
    .option('--dialogues <file>', 'JSONL dialogues {conversation_id, turns:[{speaker, text}]} (default: the bundled Topical-Chat subset)')
    .option('--count <N>', 'dialogues to use, from the start of the file', intOption('--count'), DEFAULT_DIALOGUE_COUNT)
    .option('--context <N>', 'context length to test (default: the model\'s)', intOption('--context', 2))
    .option('--max-turn-tokens <N>', 'cut each turn to N tokens (default: a quarter of the context)', intOption('--max-turn-tokens', 4))
    .option('--tolerance <x>', 'largest |Δlogit| allowed for cached vs recomputed and padded vs unpadded', floatOption('--tolerance'), DEFAULT_TOLERANCE)
    .option('--max-nll-ratio <r>', 'largest mean SNN/ANN NLL ratio per reply', floatOption('--max-nll-ratio'), DEFAULT_MAX_NLL_RATIO)
    .option('--no-recall', 'skip the recall probe')
    .option('--ann-only', 'test the source ANN instead of the SNN (needed for a HF model)')
    .addOption(deviceOption())
    .addOption(simulateOption())
    .option('--revision <rev>', 'hub revision')
    .option('--offline', 'never touch the network')
    .option('--json', 'print the report as JSON on stdout')
    .option('-q, --quiet', 'no progress output')
    .action(async (bundle: string, o: Record<string, unknown>) => {
      const progress = createProgress({ quiet: Boolean(o['quiet']) });
      const annOnly = Boolean(o['annOnly']);
      const model = await openModel(bundle, { annOnly, device: o['device'] as DeviceChoice, ...(o['simulate'] ? { simulate: o['simulate'] as Simulation } : {}), ...(o['revision'] ? { revision: o['revision'] as string } : {}), offline: Boolean(o['offline']) });
      let report: CoherenceReport;
      try {
        report = await runCoherenceSuite(model, {
          ...(o['dialogues'] ? { dialogues: o['dialogues'] as string } : {}),
          count: o['count'] as number,
          ...(o['context'] ? { maxContextLength: o['context'] as number } : {}),
          ...(o['maxTurnTokens'] ? { maxTurnTokens: o['maxTurnTokens'] as number } : {}),
          tolerance: o['tolerance'] as number,
          maxNllRatio: o['maxNllRatio'] as number,
          recall: o['recall'] !== false,
          ...(annOnly ? { ann: true } : {}),
          onProgress: (stage, done, total) => progress.update(stage, done, total),
        });
      } finally {
        progress.done();
        await model.release();
      }
      if (o['json']) printJson(report);
      else process.stdout.write(render(report));
      if (!report.passed) process.exitCode = 1;
    });
}

function render(r: CoherenceReport): string {
  const what = r.tested === 'snn' ? `SNN T=${String(r.timesteps)} (${String(r.recipe)})` : 'ANN';
  const d = r.dialogues;
  const lines = [
    `coherence suite: ${r.model}, ${what}; ${d.count} dialogues, ${d.turns} turns, ${d.tokens} tokens; context ${r.contextLength}`,
    ...r.checks.map((c) => `  ${c.status.padEnd(9)}${c.check.padEnd(22)}${c.reason}`),
  ];
  const count = (s: string) => r.checks.filter((c) => c.status === s).length;
  const tally = [['pass', count('pass')], ['fail', count('fail')], ['reported', count('reported')]].filter(([, n]) => n !== 0).map(([s, n]) => `${String(n)} ${String(s)}`).join(', ');
  lines.push(`${r.passed ? 'PASSED' : 'FAILED'} (${tally}) in ${r.seconds.toFixed(1)} s`);
  return `${lines.join('\n')}\n`;
}
