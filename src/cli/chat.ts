// `snnconvert chat [model]`: multi-turn chat through the KV cache, one stdin line per message; /reset, /exit.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { isSnnError } from '../errors/index.js';
import { Conversation } from '../runtime/conversation.js';
import { addRunOptions, describeRun, openProcessor, samplingFrom } from './generate.js';

const HELP = 'type a message and press enter; /reset starts over, /exit (or end of input) quits';

export function registerChat(program: Command): void {
  addRunOptions(program.command('chat')
    .description('chat over several turns through the cache (the chat template when the tokenizer has one, else a User:/Assistant: transcript); reads stdin lines, so it can be piped')
    .argument('[model]', '.snn bundle, HF folder or hub id (default: the embedded model, with --ann-only)')
    .option('--system <text>', 'a system message'))
    .action(async (model: string | undefined, o: Record<string, unknown>) => {
      const tsp = await openProcessor(model, o);
      const chat = new Conversation(tsp, { ...samplingFrom(o), specialTokens: o['specialTokens'] !== false, ...(o['system'] ? { system: o['system'] as string } : {}) });
      const tty = Boolean(process.stdin.isTTY);
      const quiet = Boolean(o['quiet']);
      const note = (text: string) => { if (!quiet) process.stderr.write(`${text}\n`); };
      note(`${describeRun(tsp)}, ${tsp.model.tokenizer.hasChatTemplate ? 'chat template' : 'plain User:/Assistant: transcript'}, context ${tsp.maxContextLength}; ${HELP}`);
      const lines = createInterface({ input: process.stdin, terminal: tty });
      const prompt = () => { if (tty) process.stdout.write('> '); };
      prompt();
      try {
        for await (const raw of lines) {
          const line = raw.trim();
          if (line === '/exit') break;
          if (line === '/reset') { chat.reset(); note('(conversation reset)'); prompt(); continue; }
          if (line === '') { prompt(); continue; }
          try {
            let last = '';
            for await (const piece of chat.say(line)) {
              process.stdout.write(piece.text);
              if (piece.text) last = piece.text;
            }
            if (!last.endsWith('\n')) process.stdout.write('\n');
          } catch (e) {
            if (!isSnnError(e)) throw e;
            process.stderr.write(`${e.render()}\n`); // a bad message ends that turn, not the chat
            process.exitCode = 1;
          }
          prompt();
        }
      } finally {
        lines.close();
        await tsp.model.release();
      }
    });
}
