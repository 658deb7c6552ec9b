// The source ANN of a HuggingFace folder as a RunnableModel (`--ann-only`): import, one layer above the runtime.
import { SnnError } from '../errors/index.js';
import { importHfModel, type ImportedModel } from '../import/hf/index.js';
import type { BindOptions } from '../import/hf/weights.js';
import type { ModelSpec } from '../ir/types.js';
import type { RunnableModel } from '../runtime/model.js';
import { type DeviceChoice, type ModelSession } from '../runtime/session.js';
import { openGraphSession } from './graph-session.js';
import { stageF32Weights } from '../weights/staging.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/tokenizer.js';

/** The source ANN of a HF model folder (the reference path, `--ann-only`). */
export class HfAnnModel implements RunnableModel {
  readonly timesteps = null;
  readonly recipe = null;
  private annSession: Promise<ModelSession> | null = null;
  private opened: DeviceChoice;
  private removeStaged: (() => void) | null = null;
  private staged = 0;

  constructor(readonly imported: ImportedModel, readonly tokenizer: Tokenizer, private readonly choice: DeviceChoice, private readonly lowMemory = false) {
    this.opened = choice;
  }

  /** The device asked for; once the session opened, the one it runs on (`auto` resolved). */
  get device(): DeviceChoice { return this.opened; }

  /** Float32 bytes of half-precision or in-memory weights staged for the session (0: it maps the checkpoint's own F32 tensors). */
  get stagedBytes(): number { return this.staged; }

  get name(): string { return this.imported.dir; }
  get spec(): ModelSpec { return this.imported.graph.spec; }

  async session(ann: boolean): Promise<ModelSession> {
    if (!ann) throw new SnnError('OPTION_INVALID', { message: 'this is a HuggingFace model, not a .snn bundle: only its ANN can run', at: this.imported.dir, hint: 'pass --ann-only, or convert it first: snnconvert convert <model>' });
    this.annSession ??= this.open();
    return this.annSession;
  }

  /**
   * Half-precision and in-memory weights are staged as float32 for the session to map instead of inlining
   * them (weights/staging.ts); the staged file goes once the session is open (onnxruntime holds what it
   * read or mapped), or with the session where the platform keeps an open file.
   */
  private async open(): Promise<ModelSession> {
    const staged = stageF32Weights([this.imported.graph]);
    this.staged = staged.bytes;
    let session: ModelSession;
    try {
      session = await openGraphSession(staged.graphs[0]!, 'ann', { device: this.choice, lowMemory: this.lowMemory });
    } catch (e) {
      staged.remove();
      throw e;
    }
    try { staged.remove(); } catch { this.removeStaged = staged.remove; }
    this.opened = session.device;
    return session;
  }

  async release(): Promise<void> {
    if (this.annSession) await (await this.annSession).release();
    this.removeStaged?.();
  }
}

/** `lowMemory`: no weight prepacking and no arena (see sessionOptions). */
export async function loadHfAnn(dir: string, opts: BindOptions & { device?: DeviceChoice; lowMemory?: boolean } = {}): Promise<HfAnnModel> {
  const imported = importHfModel(dir, opts);
  return new HfAnnModel(imported, await loadTokenizer(dir), opts.device ?? 'cpu', opts.lowMemory ?? false);
}
