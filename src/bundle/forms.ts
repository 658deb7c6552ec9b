// Which stored form of a bundle runs a request: execution (closed or steps), spike planes or not, native or portable rounding.
import { SnnError } from '../errors/index.js';
import type { BundleForm, Execution } from './format.js';

export interface FormWanted {
  readonly execution: Execution;
  /** The spike planes must be outputs. */
  readonly spikes: boolean;
  /** The device lacks Round/Sign (WebGPU): take the portable-rounding form where the bundle has one. */
  readonly portable: boolean;
}

/**
 * The stored form that serves `wanted`: same execution; portable rounding when asked and stored, else
 * native; without spike planes when they are not needed and such a form is stored (a graph computes
 * every output it has). OPTION_INVALID when the bundle stores no form of that execution.
 */
export function pickForm(forms: readonly BundleForm[], wanted: FormWanted): BundleForm | null {
  const same = forms.filter((f) => f.execution === wanted.execution);
  if (same.length === 0) {
    throw new SnnError('OPTION_INVALID', {
      message: `this bundle stores no ${wanted.execution} form (stored: ${[...new Set(forms.map((f) => f.execution))].join(', ')}); the closed (T-parallel) form exists for the weighted code only`,
      at: '--simulate',
      hint: 'use --simulate steps, or convert with --code weighted',
    });
  }
  const rounding = wanted.portable && same.some((f) => f.rounding === 'portable') ? 'portable' : 'native';
  const fit = same.filter((f) => f.rounding === rounding && (f.spikes || !wanted.spikes));
  return fit.find((f) => f.spikes === wanted.spikes) ?? fit[0] ?? null;
}

/** The execution model.onnx runs (the bundle's own, used when none is asked for). */
export function defaultExecution(forms: readonly BundleForm[]): Execution {
  return forms[0]!.execution;
}
