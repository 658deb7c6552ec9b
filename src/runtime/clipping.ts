// Clipped share: how many neuron counts hit the code's range on the evaluated text, per site, against calibration.
import type { ModelSession } from './session.js';

/** Eval warns about sites whose clipped share exceeds this, or 10× what calibration saw, whichever is larger. */
export const CLIPPING_WARN_SHARE = 1e-3;

export interface SiteClipping {
  readonly site: string;
  /** Counts (token × channel) that clipped at the neuron's range. */
  readonly clipped: number;
  readonly values: number;
  readonly share: number;
}

export interface ClippingReport {
  /** Clipped counts over all sites / all counts. */
  readonly share: number;
  /** Share of calibration values beyond θ under its statistic (0 for max). */
  readonly calibrationShare: number;
  /** Every site, graph order. */
  readonly sites: readonly SiteClipping[];
  /** Sites far above calibration (see CLIPPING_WARN_SHARE), largest share first. */
  readonly flagged: readonly SiteClipping[];
  /** One line naming the flagged sites and the remedy, or null. */
  readonly warning: string | null;
}

/** Counts saturation tensors ([B, S, D]: clipped steps per count) window by window. */
export class ClippingCounter {
  private readonly clipped = new Map<string, number>();
  private readonly values = new Map<string, number>();

  constructor(readonly outputs: readonly string[]) {}

  /** The saturation outputs a session exposes (`saturation/<site>`); empty when it exposes none. */
  static outputsOf(session: ModelSession): string[] {
    return session.extraOutputs.filter((n) => n.startsWith('saturation/'));
  }

  add(extra: ReadonlyMap<string, { readonly data: Float32Array }>): void {
    for (const name of this.outputs) {
      const data = extra.get(name)!.data;
      let n = 0;
      for (let i = 0; i < data.length; i++) if (data[i]! > 0) n += 1;
      this.clipped.set(name, (this.clipped.get(name) ?? 0) + n);
      this.values.set(name, (this.values.get(name) ?? 0) + data.length);
    }
  }

  report(calibrationShare: number): ClippingReport {
    const sites = this.outputs.map((name) => {
      const clipped = this.clipped.get(name) ?? 0, values = this.values.get(name) ?? 0;
      return { site: name.slice('saturation/'.length), clipped, values, share: values ? clipped / values : 0 };
    });
    const all = sites.reduce((a, s) => a + s.values, 0);
    const limit = Math.max(CLIPPING_WARN_SHARE, 10 * calibrationShare);
    const flagged = sites.filter((s) => s.share > limit).sort((a, b) => b.share - a.share);
    const named = flagged.slice(0, 5).map((s) => `${s.site} ${(100 * s.share).toFixed(2)} %`).join(', ');
    const warning = flagged.length === 0 ? null
      : `${flagged.length} neuron site${flagged.length > 1 ? 's' : ''} clipped far more of this text than calibration saw (over ${(100 * limit).toFixed(2)} % of values): ${named}${flagged.length > 5 ? `, and ${flagged.length - 5} more` : ''}. Reconvert with calibration text like this one (--calib-text), or more headroom (--headroom ${'<'}n${'>'}), and a --calib-length covering the context`;
    return { share: all ? sites.reduce((a, s) => a + s.clipped, 0) / all : 0, calibrationShare, sites, flagged, warning };
  }
}
