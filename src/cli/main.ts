// The snnconvert command line: commander setup, one module per command, one-line typed errors (docs/design.md §7).
import { Command, CommanderError } from 'commander';
import { converterVersion } from '../convert.js';
import { isSnnError } from '../errors/index.js';
import { parseThreads } from '../options/values.js';
import { sessionThreads, setThreads } from '../runtime/session.js';
import { registerCommands } from './commands.js';
import { checkCommandTypo } from './did-you-mean.js';

export function buildProgram(): Command {
  const program = new Command('snnconvert')
    .description('Convert HuggingFace language models into real spiking neural networks (.snn bundles) and run them.')
    .version(converterVersion())
    .option('--verbose', 'print the stack and cause chain of errors')
    .option('--threads <n>', 'threads for each onnxruntime operator and for quantizing synapses and scoring reports (default: SNNCONVERT_THREADS, else every physical core)')
    // Usage errors print like every other error: one typed line (set before the commands, which inherit it).
    .configureOutput({ outputError: (text, write) => write(`${usageError(text)}\n`) })
    .exitOverride();
  // Before any command runs, so every session it opens uses them.
  program.hook('preAction', () => {
    const threads = program.opts()['threads'] as string | undefined;
    if (threads !== undefined) setThreads(parseThreads(threads));
    else sessionThreads(); // a bad SNNCONVERT_THREADS is refused before the command starts, not at its first session
  });
  registerCommands(program);
  return program;
}

/** Runs the CLI; never throws: errors print one line (or the trace with --verbose) and set a non-zero exit code. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    checkCommandTypo(argv[2], program.commands.map((c) => c.name()));
    await program.parseAsync([...argv]);
  } catch (e) {
    process.exitCode = reportError(e, argv.includes('--verbose'));
  }
}

/** commander's "error: unknown option '--x'" as `error[OPTION_INVALID]: … / hint: …` on one line. */
function usageError(text: string): string {
  const what = text.trim().replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, ' ');
  return `error[OPTION_INVALID]: invalid option: ${what} / hint: run with --help for usage`;
}

function reportError(e: unknown, verbose: boolean): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
  if (isSnnError(e)) {
    process.stderr.write(`${e.render()}\n`);
  } else {
    process.stderr.write(`error[INTERNAL]: ${(e as Error)?.message ?? String(e)} / hint: this is a bug in snnconvert; rerun with --verbose and report it\n`);
  }
  if (verbose) {
    let cause: unknown = e;
    while (cause instanceof Error) { process.stderr.write(`${cause.stack ?? cause.message}\n`); cause = cause.cause; }
  }
  return 1;
}
