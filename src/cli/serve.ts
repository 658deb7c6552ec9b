// `snnconvert serve <bundle>`: the OpenAI-compatible server; SIGTERM or Ctrl-C drains in-flight requests, then exits.
import type { Command } from 'commander';
import { SnnError } from '../errors/index.js';
import { serve } from '../serve/server.js';
import { deviceOption, intOption, openModel } from './common.js';
import type { DeviceChoice } from '../options/values.js';

export function registerServe(program: Command): void {
  program.command('serve')
    .description('serve a .snn bundle over HTTP with the OpenAI API (chat and completions, SSE streaming); sessions keep their cache')
    .argument('<bundle>', '.snn bundle (or a HF folder with --ann-only)')
    .option('--port <N>', 'TCP port; 0 picks a free one', intOption('--port', 0), 8000)
    .option('--host <addr>', 'address to bind; 0.0.0.0 exposes the server to the network', '127.0.0.1')
    .addOption(deviceOption())
    .option('--max-sessions <N>', 'sessions held at once; the least recently used idle one is evicted beyond it', intOption('--max-sessions'), 64)
    .option('--max-queue <N>', 'requests waiting for a slot; more get 429 with Retry-After', intOption('--max-queue', 0), 64)
    .option('--max-batch <N>', 'requests generated together in one batched step', intOption('--max-batch'), 16)
    .option('--overflow <policy>', 'a prompt beyond the context: error (400 naming the limit) | slide (keep the newest tokens)', 'error')
    .option('--ann-only', 'serve the source ANN instead of the SNN')
    .option('--model-name <id>', 'the model id in /v1/models (default: the bundle folder name)')
    .action(async (bundle: string, o: Record<string, unknown>) => {
      const overflow = o['overflow'] as string;
      if (overflow !== 'error' && overflow !== 'slide') throw new SnnError('OPTION_INVALID', { message: `unknown overflow policy ${JSON.stringify(overflow)} (valid: error, slide)`, at: '--overflow' });
      const port = o['port'] as number;
      if (port > 65535) throw new SnnError('OPTION_INVALID', { message: `--port must be at most 65535, got ${port}`, at: '--port' });
      const annOnly = Boolean(o['annOnly']);
      const model = await openModel(bundle, { annOnly, device: o['device'] as DeviceChoice });
      const server = await serve(model, {
        port,
        host: o['host'] as string,
        maxSessions: o['maxSessions'] as number,
        maxQueue: o['maxQueue'] as number,
        maxBatch: o['maxBatch'] as number,
        overflow,
        ann: annOnly || model.timesteps === null,
        ...(o['modelName'] ? { modelName: o['modelName'] as string } : {}),
      }).catch(async (e: unknown) => { await model.release(); throw e; });
      process.stderr.write(`serving ${server.modelId} (${model.timesteps === null || annOnly ? 'ANN' : `SNN T=${model.timesteps}`}) on ${server.url} — POST /v1/chat/completions, /v1/completions; GET /v1/models, /health, /metrics. SIGTERM or Ctrl-C drains and stops.\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.stderr.write(`${signal}: finishing in-flight requests…\n`);
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      await server.close();
      await model.release();
      process.stderr.write('stopped\n');
    });
}
