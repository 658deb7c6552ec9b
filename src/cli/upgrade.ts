// `snnconvert upgrade <bundle>`: add the stored ONNX forms to a bundle written before bundles carried them.
import type { Command } from 'commander';
import { upgradeBundle } from '../emit/bundle/upgrade.js';
import { printJson } from './common.js';

export function registerUpgrade(program: Command): void {
  program.command('upgrade')
    .description('add the stored ONNX forms (spike planes, step reference, portable rounding) to a .snn bundle of format 1, in place')
    .argument('<bundle>', '.snn bundle folder')
    .option('--json', 'print JSON on stdout')
    .action(async (bundle: string, o: Record<string, unknown>) => {
      const r = await upgradeBundle(bundle);
      if (o['json']) { printJson(r); return; }
      process.stdout.write(r.upgraded ? `upgraded ${r.path}: wrote ${r.written.join(', ')}\n` : `${r.path} already stores its forms; nothing to do\n`);
    });
}
