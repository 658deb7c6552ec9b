// Turning a check's violations into its result: pass with what held, or fail with the first violation as the reason.
import type { CheckName, CheckResult, Json } from './types.js';

const KEPT_FAILURES = 20;

/** Collects violations as a check runs; `finish` renders the result. */
export class Verdict {
  private readonly found: string[] = [];
  private count = 0;
  private readonly started = performance.now();

  constructor(readonly check: CheckName) {}

  /** Records a violation when `ok` is false; returns `ok`. */
  expect(ok: boolean, violation: () => string): boolean {
    if (!ok) this.fail(violation());
    return ok;
  }

  fail(violation: string): void {
    this.count += 1;
    if (this.found.length < KEPT_FAILURES) this.found.push(violation);
  }

  get failed(): boolean { return this.count > 0; }

  finish(passReason: string, measured: { readonly [key: string]: Json }): CheckResult {
    const more = this.count > this.found.length ? ` (${this.count} violations, the first ${this.found.length} listed)` : this.count > 1 ? ` (${this.count} violations)` : '';
    return {
      check: this.check,
      status: this.failed ? 'fail' : 'pass',
      reason: this.failed ? `${this.found[0]!}${more}` : passReason,
      measured,
      failures: [...this.found],
      seconds: round((performance.now() - this.started) / 1000, 3) ?? 0,
    };
  }
}

/** A number for the report: `digits` significant decimals, non-finite values as null. */
export function round(x: number, digits = 6): number | null {
  if (!Number.isFinite(x)) return null;
  return Number(x.toPrecision(digits));
}

/** The message of anything thrown, with the error code when it has one. */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}
