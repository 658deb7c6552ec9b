// optimum's decoder_model_merged.onnx: one If on use_cache_branch between a with-past and a no-past decoder; the with-past one is inlined.
import onnxProto from 'onnx-proto';
import { SnnError } from '../../errors/index.js';

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type GraphProto = onnxProto.onnx.IGraphProto;

export interface InlinedGraph {
  readonly nodes: readonly NodeProto[];
  /** The branches' own initializers (optimum keeps shared weights in the outer graph). */
  readonly initializers: readonly TensorProto[];
  /** What was done, for the user: which If, which branch. */
  readonly notices: readonly string[];
}

const PAST = /^past_key_values\.\d+\.(key|value)$/;

/**
 * Replaces every top-level If whose condition is a graph input by the branch that reads the past
 * K/V inputs (the plain causal decoder with a cache, as onnx/model.onnx is); the branch's outputs take
 * the If's output names. Graphs without such an If are returned as they are.
 */
export function inlineMergedDecoder(graph: GraphProto, inputs: ReadonlySet<string>, at: string): InlinedGraph {
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const notices: string[] = [];
  for (const node of graph.node ?? []) {
    if (node.opType !== 'If' || (node.domain ?? '') !== '' || !inputs.has(node.input?.[0] ?? '')) { nodes.push(node); continue; }
    const branches = (node.attribute ?? []).filter((a) => a.type === onnx.AttributeProto.AttributeType.GRAPH && a.g).map((a) => ({ name: a.name ?? '', g: a.g! }));
    const withPast = branches.find((b) => readsPast(b.g));
    if (!withPast) {
      throw new SnnError('ONNX_NOT_LIFTABLE', {
        message: `If "${node.name ?? ''}" on "${node.input?.[0] ?? ''}": neither branch reads past_key_values.*, so neither is the causal decoder with a cache`,
        at, hint: 'convert onnx/model.onnx (optimum-cli export onnx --task text-generation-with-past writes it)',
      });
    }
    const rename = new Map<string, string>();
    (withPast.g.output ?? []).forEach((o, i) => { const outer = node.output?.[i]; if (o.name && outer) rename.set(o.name, outer); });
    const r = (v: string): string => rename.get(v) ?? v;
    for (const n of withPast.g.node ?? []) nodes.push({ ...n, input: (n.input ?? []).map(r), output: (n.output ?? []).map(r) });
    initializers.push(...(withPast.g.initializer ?? []));
    notices.push(`merged decoder: took the ${withPast.name === 'then_branch' ? 'then' : 'else'} branch of If "${node.name ?? ''}" (on ${node.input?.[0] ?? ''}), the decoder with past_key_values`);
  }
  return { nodes, initializers, notices };
}

function readsPast(g: GraphProto): boolean {
  return (g.node ?? []).some((n) => (n.input ?? []).some((i) => PAST.test(i)));
}
