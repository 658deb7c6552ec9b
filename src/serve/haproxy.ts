// The HAProxy configuration for N serve replicas: consistent hashing on the session key, health checks, retry on a dead replica.

export interface HaproxyOptions {
  /** Replicas, on 127.0.0.1 at basePort + 1 … basePort + replicas. */
  readonly replicas: number;
  /** The address and port HAProxy listens on. */
  readonly host: string;
  readonly port: number;
  /** The bundle and extra serve flags, for the commands printed as comments. */
  readonly bundle: string;
  readonly serveFlags?: readonly string[];
  /** Replica health-check interval (default 1 s; a replica is marked down after 3 failed checks; one that died is skipped at once by the retry). */
  readonly checkIntervalMs?: number;
  /** Client/server inactivity timeout (default 300 s: a long reply is one request). */
  readonly timeoutMs?: number;
}

/** The port of replica i (1-based). */
export function replicaPort(basePort: number, i: number): number {
  return basePort + i;
}

/**
 * A complete haproxy.cfg. The session key hashed is the caller's API key (as a digest) and its
 * X-Session-Id, because sessions are scoped to the key; `hash-type consistent` moves only the
 * sessions of a replica that goes down. Requests without X-Session-Id go round-robin. A request
 * sent to a replica that died before answering is retried on another (`retry-on conn-failure
 * empty-response` with `option redispatch`): any replica answers any turn identically, since the
 * client sends the whole history and a cached answer equals a recomputed one.
 */
export function haproxyConfig(o: HaproxyOptions): string {
  const inter = o.checkIntervalMs ?? 1000;
  const timeout = o.timeoutMs ?? 300_000;
  const loopback = o.host === 'localhost' || o.host === '::1' || o.host.startsWith('127.');
  const flags = (o.serveFlags ?? []).join(' ');
  const replicas = Array.from({ length: o.replicas }, (_, k) => k + 1);
  return [
    `# ${o.replicas} snnconvert serve replicas behind HAProxy (haproxy -f haproxy.cfg), routed by the session key.`,
    '# Start the replicas first:',
    ...replicas.map((i) => `#   snnconvert serve ${o.bundle} --host 127.0.0.1 --port ${replicaPort(o.port, i)}${flags ? ` ${flags}` : ''} &`),
    'global',
    '  maxconn 4096',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    `  timeout client ${timeout}ms`,
    `  timeout server ${timeout}ms`,
    '  timeout http-request 15s',
    '  # A replica busy with a batch, or warming up on its first call, answers /health late, not never.',
    '  timeout check 10s',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    '',
    'frontend snn',
    `  bind ${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`,
    '  # The session key: a digest of the caller\'s API key and its X-Session-Id (sessions are scoped to the key).',
    '  http-request set-header X-Snn-Route %[req.hdr(authorization),sha2(256),hex]/%[req.hdr(x-session-id)] if { req.hdr(x-session-id) -m found }',
    '  default_backend replicas',
    '',
    'backend replicas',
    '  balance hdr(X-Snn-Route)',
    '  hash-type consistent',
    '  option httpchk',
    '  http-check send meth GET uri /health ver HTTP/1.1 hdr Host 127.0.0.1',
    '  http-check expect status 200',
    ...(loopback ? [] : ['  # The replicas bind loopback: they check Host against loopback names, so name one.', '  http-request set-header Host 127.0.0.1']),
    `  default-server inter ${inter}ms fall 3 rise 2`,
    ...replicas.map((i) => `  server r${i} 127.0.0.1:${replicaPort(o.port, i)} check`),
    '',
  ].join('\n');
}
