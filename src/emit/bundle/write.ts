// Writes a .snn bundle atomically (its stored forms: forms.ts): everything goes into a temp folder beside the target, hashed, then renamed.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { SnnError, isSnnError } from '../../errors/index.js';
import { trackTemp } from '../../util/temp-paths.js';
import { writeSafetensors } from '../../weights/safetensors.js';
import { weightData } from '../../weights/weight-data.js';
import type { Graph } from '../../ir/types.js';
import type { SynapseRecord } from '../../ops/op.js';
import { nafMax } from '../../ops/spike-code.js';
import { emitOnnx, type WeightPlacement } from '../lower.js';
import { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, COPIED_FILES, FILES, type BundleMeta, type NeuronSiteRecord, type SnnConfigSection } from '../../bundle/format.js';
import { graphToJson } from '../../bundle/graph-json.js';
import { hashTree } from '../../bundle/hash.js';
import { writeForms } from './forms.js';
import { neuronsOf } from '../../ops/spiking.js';

export interface WriteBundleInput {
  /** The calibrated spiking graph. */
  readonly graph: Graph;
  /** The source ANN graph (before the passes): written as ann.onnx, the reference of every comparison. */
  readonly sourceGraph: Graph;
  readonly out: string;
  readonly force?: boolean;
  /** The source model folder: tokenizer and generation files are copied from it. */
  readonly sourceDir: string;
  /** The source config.json, to which the `snn` section is added. */
  readonly sourceConfig: Readonly<Record<string, unknown>>;
  readonly meta: Omit<BundleMeta, 'format' | 'formatVersion' | 'files' | 'neurons' | 'created' | 'forms'> & { readonly neurons: readonly Omit<NeuronSiteRecord, 'output'>[] };
  /** Writes extra content (the spike report) into the temp bundle before it is hashed. */
  readonly addExtra?: (tempDir: string) => Promise<void>;
  /** Called between steps; a throw aborts the write and leaves nothing behind. */
  readonly onStep?: (step: string) => void;
}

export async function writeBundle(input: WriteBundleInput): Promise<string> {
  const out = resolve(input.out);
  if (existsSync(out) && !input.force) throw new SnnError('OUTPUT_EXISTS', { message: `${out} already exists`, at: out });
  const temp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(temp, { recursive: true });
  const untrack = trackTemp(temp);
  try {
    await fillBundle(temp, input);
    replace(temp, out);
    return out;
  } catch (e) {
    rmSync(temp, { recursive: true, force: true });
    if (isSnnError(e)) throw e;
    throw new SnnError('WRITE_FAILED', { message: `bundle not written: ${(e as Error).message}`, at: out, cause: e });
  } finally {
    untrack();
  }
}

async function fillBundle(dir: string, input: WriteBundleInput): Promise<void> {
  const { graph } = input;
  const step = input.onStep ?? (() => undefined);
  step('weights');
  const weights = [...graph.weights.values()];
  const written = writeSafetensors(join(dir, FILES.weights), weights.map((w) => ({ name: w.name, shape: w.shape, data: () => weightData(w) })), { format: 'pt', producer: 'snnconvert' });
  const placeWeight = (w: { name: string }): WeightPlacement => {
    const at = written.offsets.get(w.name)!;
    return { external: { location: FILES.weights, offset: at.offset, length: at.length } };
  };
  step('model');
  const { forms, main: snn } = await writeForms(dir, graph, placeWeight);
  writeFileSync(join(dir, FILES.annModel), emitOnnx(input.sourceGraph, { mode: 'ann', placeWeight }).bytes);
  writeFileSync(join(dir, FILES.graph), JSON.stringify(graphToJson(graph, input.sourceGraph)));
  step('config');
  const weighted = graph.spiking!.code === 'weighted';
  const outputBySite = new Map(snn.spikeOutputs.map((s) => [s.site, s.output]));
  writeFileSync(join(dir, FILES.config), JSON.stringify({ ...input.sourceConfig, snn: { ...snnSection(graph, input.meta.neurons, snn.execution), ...synapseSummary(snn.synapses) } }, null, 2));
  for (const f of COPIED_FILES) if (existsSync(join(input.sourceDir, f))) copyFileSync(join(input.sourceDir, f), join(dir, f));
  if (input.addExtra) { step('report'); await input.addExtra(dir); }
  step('meta');
  const neurons = input.meta.neurons.map((n) => ({ ...n, output: outputBySite.get(n.site) ?? (weighted ? `spikes/${n.site}` : '') }));
  const meta: BundleMeta = {
    ...input.meta, format: BUNDLE_FORMAT, formatVersion: BUNDLE_FORMAT_VERSION, created: new Date().toISOString(), neurons, forms: [...forms],
    files: hashTree(dir, [FILES.meta]),
  };
  writeFileSync(join(dir, FILES.meta), JSON.stringify(meta, null, 2));
}

function snnSection(graph: Graph, neurons: readonly { kind: string; levels: number }[], execution: string | null): SnnConfigSection & { levels: Record<string, number> } {
  const kinds = [...new Set(neurons.map((n) => n.kind))];
  const levels: Record<string, number> = {};
  for (const { attrs } of neuronsOf(graph.nodes)) if (attrs.levels !== 1) levels[attrs.site] = attrs.levels;
  const { timesteps: T, recipe, code } = graph.spiking!;
  const weighted = code === 'weighted';
  return {
    timesteps: T,
    recipe,
    neuron: kinds.length ? kinds.join('+') : 'none',
    reset: 'subtract',
    v_init: weighted ? 'the integrated input, rounded to the count q = round(x/u), u = θ/M_T' : kinds.includes('IF') ? 'IF: θ/2; SignedIF: 0' : '0 (fires at ±θ/2)',
    code,
    ...(weighted ? { step_weights: `2^(T-1-t) units for step t = 0..${T - 1} (signed NAF digits, most significant first); M_T = ${nafMax(T)}` } : {}),
    ...(weighted ? { headroom: headroomRecord(T, graph.spiking!.headroom ?? 0) } : {}),
    execution: execution ?? 'steps',
    td_convention: 'mean',
    layout: execution === 'closed' ? '[B, S, D] (closed form: counts; spikes/<site> outputs are [T, B, S, D] digit planes)' : '[T, B, S, D]',
    readout: weighted ? 'the LM head acts once on the integrated (counted) input' : 'mean over T of the LM head input (the head is linear)',
    levels,
  };
}

/** The weighted code's range above calibration: θ ↦ M_(T−h), counts clip only beyond M_T. */
function headroomRecord(T: number, h: number): Record<string, unknown> {
  const unit = nafMax(T - h);
  return { digits: h, unit: `u = θ/M_${T - h} = θ/${unit} (θ: the largest value calibration saw)`, range: `values up to M_${T}·u = ${(nafMax(T) / unit).toFixed(3)}·θ are coded; only beyond that a count clips (counted per site)` };
}

/** Integer synapses (weighted code): how many Linears got them, their bits, and the largest certified accumulator. */
function synapseSummary(synapses: readonly SynapseRecord[]): Record<string, unknown> {
  if (synapses.length === 0) return {};
  const integer = synapses.filter((s) => s.kind === 'integer');
  return {
    synapses: {
      rule: 'y = s_j · Σ_k w_kj·q_k + b_j with integer weights w (per-output scale s) and integer counts q: every partial sum is an exact float32 integer (< 2^24), so results do not depend on batch or chunk shape',
      integer: integer.length, float: synapses.length - integer.length,
      bits: Object.fromEntries(synapses.map((s) => [s.node, s.bits ?? 'float'])),
      max_accumulator: integer.reduce((m, s) => Math.max(m, s.bound ?? 0), 0),
      count_parts: Object.fromEntries(integer.filter((s) => (s.groups ?? 1) > 1).map((s) => [s.node, s.groups])),
    },
  };
}

/** Moves `temp` to `out`, replacing an existing `out` only after the new bundle is complete. */
function replace(temp: string, out: string): void {
  if (!existsSync(out)) { renameSync(temp, out); return; }
  const old = `${temp}.old`;
  renameSync(out, old);
  renameSync(temp, out);
  rmSync(old, { recursive: true, force: true });
}
