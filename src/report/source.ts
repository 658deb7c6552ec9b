// What the report runs on: a bundle folder's spiking IR, tokenizer, and its two emitted models (SNN with spikes, ANN).
import { join } from 'node:path';
import { SnnError } from '../errors/index.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/tokenizer.js';
import type { Graph } from '../ir/types.js';
import type { RunnableModel } from '../runtime/model.js';
import { createSession, ModelSession } from '../runtime/session.js';
import { openGraphSession } from '../open/graph-session.js';
import { FILES } from '../bundle/format.js';
import { readBundleGraphs } from '../bundle/read.js';
import { neuronSites, type SiteFacts } from './graph-facts.js';

/** A bundle folder opened for reporting. Works on a finished bundle and on one still being written (no meta.json yet). */
export interface ReportSource extends RunnableModel {
  readonly dir: string;
  readonly graph: Graph;
  readonly timesteps: number;
  readonly recipe: string;
  readonly sites: readonly SiteFacts[];
  /** Whether model.onnx exposes `saturation/<site>` outputs (bundles from before saturation counting do not). */
  readonly hasSaturation: boolean;
}

/** The spiking IR of a bundle folder, weights pointing into its weights.safetensors. */
export function readBundleGraph(dir: string): Graph {
  return readBundleGraphs(dir).graph;
}

export async function openReportSource(dir: string): Promise<ReportSource> {
  const graph = readBundleGraph(dir);
  const spiking = graph.spiking!;
  const sites = neuronSites(graph, graph.spec.maxPositions);
  const tokenizer: Tokenizer = await loadTokenizer(dir);
  let snn: ModelSession;
  let hasSaturation: boolean;
  if (spiking.code === 'weighted') {
    // model.onnx leaves the spike planes out; the same closed form with them exposed is emitted from graph.json.
    snn = await openGraphSession(graph, 'snn', { exposeSpikes: true });
    hasSaturation = sites.length > 0;
  } else {
    const snnOrt = await createSession(join(dir, FILES.snnModel));
    const missing = sites.filter((s) => !snnOrt.outputNames.includes(s.output)).map((s) => s.output);
    if (missing.length) {
      await snnOrt.release();
      throw new SnnError('BUNDLE_INVALID', { message: `${FILES.snnModel} does not expose the spike outputs ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}`, at: dir });
    }
    hasSaturation = sites.length > 0 && sites.every((s) => snnOrt.outputNames.includes(s.saturation));
    snn = new ModelSession(graph.spec, snnOrt, spiking.timesteps, sites.map((s) => s.output));
  }
  let ann: Promise<ModelSession> | null = null;
  return {
    dir, graph, sites, hasSaturation, tokenizer, name: dir, spec: graph.spec, timesteps: spiking.timesteps, recipe: spiking.recipe, device: 'cpu',
    session: (wantAnn) => {
      if (!wantAnn) return Promise.resolve(snn);
      ann ??= createSession(join(dir, FILES.annModel)).then((s) => new ModelSession(graph.spec, s, null, []));
      return ann;
    },
    release: async () => {
      await snn.release();
      if (ann) await (await ann).release();
    },
  };
}
