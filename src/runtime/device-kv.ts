// KV blocks that stay on the device between decode steps (WebGPU I/O binding), and their host fallbacks.
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';

/**
 * One K or V block of one conversation, [kvHeads, tokens, headDim] (batch 1). A tensor in GPU memory
 * that the next step is fed as is; its first `tokens` rows may be a view of a longer block (after a
 * truncation), which is then cut on the host when fed. Host code never reads it synchronously.
 */
export class DeviceKv {
  private constructor(
    private readonly tensor: ort.Tensor,
    readonly heads: number,
    /** Tokens this block holds (≤ the tensor's). */
    readonly tokens: number,
    readonly headDim: number,
  ) {}

  /** Wraps a present output of shape [1, heads, tokens, headDim] that lives on the device. */
  static wrap(tensor: ort.Tensor): DeviceKv {
    const [, heads, tokens, headDim] = tensor.dims as [number, number, number, number];
    return new DeviceKv(tensor, heads, tokens, headDim);
  }

  /** Floats held (as a host array's `length`). */
  get length(): number {
    return this.heads * this.tokens * this.headDim;
  }

  /** True when this block and `other` share one device tensor. */
  shares(other: DeviceKv): boolean {
    return this.tensor === other.tensor;
  }

  /** The first `keep` tokens: a view on the same tensor (cut when fed or read). */
  truncate(keep: number): DeviceKv {
    return new DeviceKv(this.tensor, this.heads, keep, this.headDim);
  }

  /** What a session is fed: the device tensor itself, or the cut host copy of a view. */
  async feed(): Promise<ort.Tensor> {
    if (this.tokens === this.tensor.dims[2]) return this.tensor;
    return new ort.Tensor('float32', await this.host(), [1, this.heads, this.tokens, this.headDim]);
  }

  /** The block's floats on the host, [heads, tokens, headDim] (one download). */
  async host(): Promise<Float32Array> {
    const all = await downloadTensor(this.tensor);
    const full = this.tensor.dims[2]!;
    if (this.tokens === full) return all;
    const D = this.headDim;
    const out = new Float32Array(this.length);
    for (let h = 0; h < this.heads; h++) out.set(all.subarray(h * full * D, (h * full + this.tokens) * D), h * this.tokens * D);
    return out;
  }

  /** Frees the device memory (every view of the tensor becomes unusable). */
  dispose(): void {
    this.tensor.dispose();
  }
}

let downloader: Promise<ort.InferenceSession> | null = null;

/**
 * A float tensor's values on the host. onnxruntime-node 1.30 aborts the process (an uncaught native
 * throw) on `Tensor.getData()` of a gpu-buffer tensor, so a device tensor is copied out by an Identity
 * session on the same device, whose output comes to the host.
 */
export async function downloadTensor(t: ort.Tensor): Promise<Float32Array> {
  if (t.location !== 'gpu-buffer') return t.data as Float32Array;
  downloader ??= ort.InferenceSession.create(identityModel(), { executionProviders: ['webgpu'], logSeverityLevel: 3 });
  const out = await (await downloader).run({ x: t });
  return out['y']!.data as Float32Array;
}

/** y = Identity(x), float32 of rank 4: the one graph the runtime builds itself (it emits no model). */
function identityModel(): Uint8Array {
  const { onnx } = onnxProto;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const value = (name: string): onnxProto.onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: ['d0', 'd1', 'd2', 'd3'].map((dimParam) => ({ dimParam })) } } } });
  const model = onnx.ModelProto.create({
    irVersion: 8, producerName: 'snnconvert', opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'download', node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'Identity_0' }], input: [value('x')], output: [value('y')] },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A K or V block as the runtime holds it: host floats, or a block resident on the device. */
export type KvBlock = Float32Array | DeviceKv;

/** The host copy of every block (device blocks downloaded). */
export function hostBlocks(blocks: readonly KvBlock[]): Promise<Float32Array[]> {
  return Promise.all(blocks.map((b) => (b instanceof DeviceKv ? b.host() : b)));
}

/** Disposes the device blocks of `retired` that no block of `live` still uses. */
export function disposeUnused(retired: readonly KvBlock[], live: Iterable<KvBlock>): void {
  const kept: DeviceKv[] = [];
  for (const b of live) if (b instanceof DeviceKv) kept.push(b);
  const done: DeviceKv[] = [];
  for (const b of retired) {
    if (!(b instanceof DeviceKv) || kept.some((k) => k.shares(b)) || done.some((d) => d.shares(b))) continue;
    b.dispose();
    done.push(b);
  }
}
