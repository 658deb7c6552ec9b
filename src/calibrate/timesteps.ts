// Timestep calibration: retarget a bundle to another T without re-importing (docs/design.md §3).
import { basename, dirname, join } from 'node:path';
import { FILES } from '../bundle/format.js';
import { readBundle } from '../bundle/read.js';
import { writeBundle } from '../emit/bundle/write.js';
import { SnnError } from '../errors/index.js';
import type { Graph } from '../ir/types.js';
import { checkCodeSupports, checkHeadroom } from '../ops/spike-code.js';
import { parseTimesteps, type Timesteps } from '../options/values.js';
import { neuronsOf } from '../ops/spiking.js';

/**
 * The bundle's spiking graph with T replaced (thresholds and headroom kept: θ sets the range, T the
 * resolution). Throws before any work when the code cannot run T (a sweep checks every T first).
 */
export function retarget(graph: Graph, T: Timesteps | number): Graph {
  if (!graph.spiking) throw new SnnError('GRAPH_INVALID', { message: 'graph is not spiking', at: 'retarget' });
  const timesteps = parseTimesteps(T, 'retarget');
  checkHeadroom(graph.spiking.code, timesteps, graph.spiking.headroom ?? 0);
  for (const { attrs } of neuronsOf(graph.nodes)) checkCodeSupports(graph.spiking.code, timesteps, attrs.levels, attrs.site);
  return { ...graph, spiking: { ...graph.spiking, timesteps } };
}

export interface CalibrateTimestepsOptions {
  /** Default: `<name>-T<target>.snn` beside the bundle. */
  readonly out?: string;
  readonly force?: boolean;
}

/**
 * Writes a copy of `bundle` that runs `targetT` steps per token.
 * @example
 * const path = await calibrateTimesteps('model.snn', 16, 32);
 */
export async function calibrateTimesteps(bundle: string, originalT: number, targetT: number, opts: CalibrateTimestepsOptions = {}): Promise<string> {
  const contents = readBundle(bundle);
  const from = parseTimesteps(originalT);
  const to = parseTimesteps(targetT);
  if (contents.timesteps !== from) {
    throw new SnnError('OPTION_INVALID', { message: `the bundle runs T=${contents.timesteps}, not T=${from}`, at: contents.path, hint: `pass originalT = ${contents.timesteps}` });
  }
  const { snn: _snn, ...sourceConfig } = contents.config as Record<string, unknown> & { snn?: unknown };
  const out = opts.out ?? join(dirname(contents.path), `${basename(contents.path, '.snn')}-T${to}.snn`);
  const { meta } = contents;
  return writeBundle({
    graph: retarget(contents.graph, to), sourceGraph: contents.sourceGraph, out, force: opts.force ?? false, sourceDir: contents.path, sourceConfig,
    meta: {
      converterVersion: meta.converterVersion, source: meta.source, recipe: meta.recipe,
      passes: [...meta.passes, { name: 'calibrate-timesteps', why: `retargeted from T=${from} to T=${to} (thresholds kept)`, matched: [FILES.snnModel] }],
      calibration: meta.calibration,
      neurons: meta.neurons.map(({ output: _o, ...n }) => n),
    },
  });
}
