// Binds checkpoint tensors to IR weights: aliases, expected shapes and finiteness, all problems collected first.
import { SnnError, throwCollected } from '../../errors/index.js';
import type { Weight } from '../../ir/types.js';
import type { Checkpoint } from './checkpoint.js';
import { countNonFinite, type StTensor } from '../../weights/safetensors.js';

export interface BindOptions {
  /** Convert even if a weight holds NaN or Inf (a warning is reported through onWarning). */
  readonly allowNonFinite?: boolean;
  readonly onWarning?: (message: string) => void;
}

const HEAD = 'lm_head.weight';

/** One line naming the first problem and how many follow (a config/weights mismatch is usually wholesale). */
function throwFirst(code: 'TENSOR_MISSING' | 'TENSOR_SHAPE', problems: readonly string[], at: string): void {
  if (problems.length === 0) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new SnnError(code, { message: `${problems[0]!}${more}`, at });
}

/** Collects weight bindings; `finish()` throws once with every missing, misshapen or non-finite tensor. */
export class WeightBinder {
  private readonly missing: string[] = [];
  private readonly misshapen: string[] = [];
  private readonly badDtype: string[] = [];
  private readonly weights = new Map<string, Weight>();
  private readonly tensors: StTensor[] = [];

  constructor(private readonly ck: Checkpoint, private readonly opts: BindOptions = {}) {}

  /** Binds the first present alias to IR weight `name` with the expected `shape`; returns `name`. */
  bind(name: string, aliases: readonly string[], shape: readonly number[]): string {
    const t = aliases.map((a) => this.ck.tensors.get(a)).find((x) => x !== undefined);
    if (!t) { this.missing.push(aliases.join(' | ')); return name; }
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') { this.badDtype.push(`${t.name} is ${t.dtype}`); return name; }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      this.misshapen.push(`${t.name} is [${t.shape.join(', ')}], config implies [${shape.join(', ')}]`);
      return name;
    }
    this.tensors.push(t);
    this.weights.set(name, { name, shape: [...t.shape], source: { kind: 'file', path: t.path, offset: t.offset, length: t.length, dtype: t.dtype } });
    return name;
  }

  /**
   * The token embedding and the LM head, in every layout transformers loads: tied, the one table may be
   * stored as the embedding, as `lm_head.weight`, or as both (the embedding wins); untied, both are required.
   */
  bindEmbeddingAndHead(name: string, aliases: readonly string[], shape: readonly number[], tied: boolean): { readonly embed: string; readonly head: string } {
    if (tied) {
      const embed = this.bind(name, [...aliases, HEAD], shape);
      return { embed, head: embed };
    }
    return { embed: this.bind(name, aliases, shape), head: this.bind(HEAD, [HEAD], shape) };
  }

  /**
   * Binds rows [`firstRow`, `firstRow` + shape[0]) of a 2-D tensor stored with `firstRow` more rows
   * (OPT keeps its learned positions at index position + 2): a view into the file, nothing copied.
   */
  bindRows(name: string, aliases: readonly string[], shape: readonly [number, number], firstRow: number): string {
    const stored: readonly [number, number] = [shape[0] + firstRow, shape[1]];
    this.bind(name, aliases, stored);
    const w = this.weights.get(name);
    if (!w || w.source.kind !== 'file') return name;
    const bytes = w.source.length / (stored[0] * stored[1]);
    const skip = firstRow * shape[1] * bytes;
    this.weights.set(name, { name, shape: [...shape], source: { ...w.source, offset: w.source.offset + skip, length: w.source.length - skip } });
    return name;
  }

  has(aliases: readonly string[]): boolean {
    return aliases.some((a) => this.ck.tensors.has(a));
  }

  finish(): Map<string, Weight> {
    throwFirst('TENSOR_MISSING', this.missing.map((m) => `missing ${m}`), this.ck.dir);
    throwCollected('TENSOR_DTYPE', this.badDtype, this.ck.dir);
    throwFirst('TENSOR_SHAPE', this.misshapen, this.ck.dir);
    const nonFinite = this.tensors.map((t) => ({ t, n: countNonFinite(t) })).filter(({ n }) => n > 0)
      .map(({ t, n }) => `${t.name} has ${n} NaN/Inf values (${t.path})`);
    if (nonFinite.length > 0) {
      if (!this.opts.allowNonFinite) throw new SnnError('TENSOR_NONFINITE', { message: nonFinite.join('; '), at: this.ck.dir });
      for (const w of nonFinite) this.opts.onWarning?.(`warning: ${w} (converting anyway: --allow-nonfinite)`);
    }
    return this.weights;
  }
}
