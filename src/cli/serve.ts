// `snnconvert serve <bundle>`: the OpenAI-compatible server (or its HAProxy config); SIGTERM or Ctrl-C drains in-flight requests, then exits.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SnnError } from '../errors/index.js';
import { haproxyConfig } from '../serve/haproxy.js';
import { collectKeys, isLoopback } from '../serve/security.js';
import { serve } from '../serve/server.js';
import { deviceOption, intOption, openModel } from './common.js';
import type { DeviceChoice } from '../options/values.js';

const repeat = (value: string, previous: readonly string[]) => [...previous, value];

export function registerServe(program: Command): void {
  program.command('serve')
    .description('serve a .snn bundle over HTTP with the OpenAI API (chat and completions, SSE streaming); sessions keep their cache')
    .argument('<bundle>', '.snn bundle (or a HF folder with --ann-only)')
    .option('--port <N>', 'TCP port; 0 picks a free one', intOption('--port', 0), 8000)
    .option('--host <addr>', 'address to bind; a non-loopback one needs an API key (or --insecure-no-auth)', '127.0.0.1')
    .addOption(deviceOption())
    .option('--api-key <key>', 'accept this Bearer key (repeatable); sessions are scoped to the key', repeat, [])
    .option('--api-key-file <file>', 'accept the keys in this file (one a line, # comments); also SNNCONVERT_API_KEYS=k1,k2')
    .option('--insecure-no-auth', 'allow a non-loopback --host without any key (anyone reaching the port can use it)')
    .option('--cors-origin <origin>', 'let web pages from this origin call the server (repeatable; default none)', repeat, [])
    .option('--max-sessions <N>', 'sessions held at once; the least recently used idle one is evicted beyond it', intOption('--max-sessions'), 64)
    .option('--max-queue <N>', 'requests waiting for a slot; more get 429 with Retry-After', intOption('--max-queue', 0), 64)
    .option('--max-batch <N>', 'requests generated together in one batched step', intOption('--max-batch'), 16)
    .option('--overflow <policy>', 'a prompt beyond the context: error (400 naming the limit) | slide (keep the newest tokens)', 'error')
    .option('--ann-only', 'serve the source ANN instead of the SNN')
    .option('--model-name <id>', 'the model id in /v1/models (default: the bundle folder name)')
    .option('--print-haproxy-config', 'print an haproxy.cfg for --replicas replicas behind --host:--port (replica i on 127.0.0.1:port+i) and exit')
    .option('--replicas <N>', 'replicas in the printed HAProxy config', intOption('--replicas'), 2)
    .action(async (bundle: string, o: Record<string, unknown>) => {
      const overflow = o['overflow'] as string;
      if (overflow !== 'error' && overflow !== 'slide') throw new SnnError('OPTION_INVALID', { message: `unknown overflow policy ${JSON.stringify(overflow)} (valid: error, slide)`, at: '--overflow' });
      const port = o['port'] as number;
      if (port > 65535) throw new SnnError('OPTION_INVALID', { message: `--port must be at most 65535, got ${port}`, at: '--port' });
      const host = o['host'] as string;
      const keyFile = o['apiKeyFile'] as string | undefined;
      const apiKeys = collectKeys(o['apiKey'] as string[], keyFile ? readKeyFile(keyFile) : null, process.env['SNNCONVERT_API_KEYS']);
      const insecureNoAuth = Boolean(o['insecureNoAuth']);
      if (!isLoopback(host) && apiKeys.length === 0 && !insecureNoAuth) {
        throw new SnnError('OPTION_INVALID', { message: `--host ${host} is reachable from other machines and no API key is given`, at: '--host', hint: 'give --api-key KEY (or --api-key-file, or SNNCONVERT_API_KEYS), or accept the risk with --insecure-no-auth' });
      }
      if (o['printHaproxyConfig']) {
        const replicas = o['replicas'] as number;
        if (port + replicas > 65535) throw new SnnError('OPTION_INVALID', { message: `replica ports ${port + 1}…${port + replicas} go beyond 65535`, at: '--port' });
        const serveFlags = [...(keyFile ? ['--api-key-file', keyFile] : apiKeys.length > 0 ? ['--api-key-file', 'KEYS_FILE'] : []), ...(o['device'] !== 'cpu' ? ['--device', o['device'] as string] : [])];
        process.stdout.write(haproxyConfig({ replicas, host, port, bundle, serveFlags }));
        return;
      }
      const annOnly = Boolean(o['annOnly']);
      const model = await openModel(bundle, { annOnly, device: o['device'] as DeviceChoice });
      const server = await serve(model, {
        port,
        host,
        // The device the model was opened on (with auto, the one it resolved to).
        device: model.device === 'auto' ? undefined : model.device,
        apiKeys,
        insecureNoAuth,
        corsOrigins: o['corsOrigin'] as string[],
        maxSessions: o['maxSessions'] as number,
        maxQueue: o['maxQueue'] as number,
        maxBatch: o['maxBatch'] as number,
        overflow,
        ann: annOnly || model.timesteps === null,
        ...(o['modelName'] ? { modelName: o['modelName'] as string } : {}),
      }).catch(async (e: unknown) => { await model.release(); throw e; });
      const auth = apiKeys.length > 0 ? `${apiKeys.length} API key${apiKeys.length > 1 ? 's' : ''}` : 'no API key';
      process.stderr.write(`serving ${server.modelId} (${model.timesteps === null || annOnly ? 'ANN' : `SNN T=${model.timesteps}`}, ${server.device}, ${auth}) on ${server.url} — POST /v1/chat/completions, /v1/completions; GET /v1/models, /health, /metrics. SIGTERM or Ctrl-C drains and stops.\n`);
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

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new SnnError('OPTION_INVALID', { message: `cannot read the API key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, at: '--api-key-file', cause: e });
  }
}
