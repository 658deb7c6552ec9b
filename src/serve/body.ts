// Reads a request body safely: bounded size and time, strict UTF-8, JSON; a client that goes away is a typed fault, not a 500.
import { SnnError } from '../errors/index.js';

export interface BodyLimits {
  /** Bytes a body may hold (413 beyond). */
  readonly maxBytes: number;
  /** Milliseconds the whole body may take to arrive (408 beyond: a slow upload holds nothing for long). */
  readonly timeoutMs: number;
}

/** Reads, decodes (strict UTF-8) and parses the JSON body of `req`. */
export async function readJsonBody(req: Request, limits: BodyLimits): Promise<unknown> {
  const bytes = await readBytes(req, limits);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new SnnError('SERVE_BODY_MALFORMED', { message: `the body is not valid UTF-8 (first bad byte at offset ${firstInvalidUtf8(bytes)})`, at: 'body' });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new SnnError('SERVE_BODY_MALFORMED', { message: `the body is not valid JSON: ${(e as Error).message}`, at: 'body' });
  }
}

async function readBytes(req: Request, limits: BodyLimits): Promise<Uint8Array> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (declared > limits.maxBytes) throw tooLarge(limits.maxBytes, declared);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SnnError('SERVE_BODY_TIMEOUT', { message: `the body did not arrive within ${limits.timeoutMs / 1000} s (${size} bytes came)`, at: 'body' })), limits.timeoutMs);
  });
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await Promise.race([reader.read(), late]);
      } catch (e) {
        if (e instanceof SnnError) throw e;
        throw clientGone('upload', e);
      }
      if (chunk.done) break;
      size += chunk.value.byteLength;
      if (size > limits.maxBytes) throw tooLarge(limits.maxBytes, null);
      chunks.push(chunk.value);
    }
  } catch (e) {
    reader.cancel().catch(() => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks);
}

/** The client closed its connection; nobody is left to answer. `phase` says when (upload, generate, stream). */
export function clientGone(phase: string, cause?: unknown): SnnError {
  return new SnnError('SERVE_CLIENT_GONE', { message: `the client closed the connection during the ${phase}`, at: phase, ...(cause !== undefined ? { cause } : {}) });
}

function tooLarge(max: number, declared: number | null): SnnError {
  return new SnnError('SERVE_BODY_TOO_LARGE', { message: `the body ${declared !== null ? `declares ${declared} bytes` : 'exceeds the limit'}; at most ${max} bytes are accepted`, at: 'body' });
}

/** Offset of the first byte that breaks UTF-8 (for the error message). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let lo = 0;
  let hi = bytes.length;
  // The longest valid prefix, by bisection (a prefix may end inside a character: allow up to 3 bytes short).
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try { new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true }); lo = mid; } catch { hi = mid - 1; }
  }
  return lo;
}
