// Progress on stderr: a bar with ETA on a terminal, sparse plain lines otherwise; silent under --quiet.
export interface Progress {
  /** A one-off status line. */
  note(message: string): void;
  /** Advances the bar for `label`. */
  update(label: string, done: number, total: number): void;
  done(): void;
}

export function createProgress(opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const out = opts.stream ?? process.stderr;
  const tty = Boolean(out.isTTY);
  let label = '';
  let started = Date.now();
  let lastTenth = -1;
  let open = false;
  const clear = () => { if (open && tty) { out.write('\r\x1b[K'); open = false; } };
  return {
    note(message) {
      if (opts.quiet) return;
      clear();
      out.write(`${message}\n`);
    },
    update(next, done, total) {
      if (opts.quiet || total <= 0) return;
      if (next !== label) { label = next; started = Date.now(); lastTenth = -1; }
      const frac = Math.min(1, done / total);
      const elapsed = (Date.now() - started) / 1000;
      const eta = frac > 0 ? elapsed * (1 / frac - 1) : 0;
      const text = `${label} ${done}/${total} ${(frac * 100).toFixed(0)}% ETA ${eta.toFixed(0)}s`;
      if (tty) {
        const width = 24;
        const filled = Math.round(frac * width);
        out.write(`\r\x1b[K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`);
        open = true;
        if (done >= total) clear();
      } else {
        const tenth = Math.floor(frac * 10);
        if (tenth !== lastTenth) { lastTenth = tenth; out.write(`${text}\n`); }
      }
    },
    done: clear,
  };
}
