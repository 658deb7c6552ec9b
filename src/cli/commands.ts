// The list of commands; each lives in its own file and registers itself on the program.
import type { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerChat } from './chat.js';
import { registerConvert } from './convert.js';
import { registerEval } from './eval.js';
import { registerGenerate } from './generate.js';
import { registerInspect } from './inspect.js';
import { registerReport } from './report.js';
import { registerServe } from './serve.js';
import { registerTest } from './test.js';
import { registerUpgrade } from './upgrade.js';

export function registerCommands(program: Command): void {
  registerConvert(program);
  registerEval(program);
  registerInspect(program);
  registerReport(program);
  registerBench(program);
  registerGenerate(program);
  registerChat(program);
  registerTest(program);
  registerServe(program);
  registerUpgrade(program);
}
