// The list of commands; each lives in its own file and registers itself on the program.
import type { Command } from 'commander';
import { registerConvert } from './convert.js';
import { registerEval } from './eval.js';
import { registerInspect } from './inspect.js';

export function registerCommands(program: Command): void {
  registerConvert(program);
  registerEval(program);
  registerInspect(program);
}
