// What the report runs on: a bundle folder's spiking IR, tokenizer, and its two emitted models (SNN, ANN).
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../tokenizer/tokenizer.js';
import type { Graph } from '../ir/types.js';
import type { RunnableModel } from '../runtime/model.js';
import { createSession, ModelSession } from '../runtime/session.js';
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
  /** Releases the SNN (`ann: false`) or ANN session if open; the next session() call opens it again. */
  releaseSession(ann: boolean): Promise<void>;
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
  // Opened when first asked for, so the spike pass (its own spike-counts session, collect-spikes.ts) runs beside neither.
  let snn: Promise<ModelSession> | null = null;
  let ann: Promise<ModelSession> | null = null;
  return {
    dir, graph, sites, tokenizer, name: dir, spec: graph.spec, timesteps: spiking.timesteps, recipe: spiking.recipe, device: 'cpu',
    session: (wantAnn) => {
      if (!wantAnn) {
        snn ??= createSession(join(dir, FILES.snnModel)).then((s) => new ModelSession(graph.spec, s, spiking.timesteps, []));
        return snn;
      }
      ann ??= createSession(join(dir, FILES.annModel)).then((s) => new ModelSession(graph.spec, s, null, []));
      return ann;
    },
    releaseSession: async (wantAnn) => {
      const open = wantAnn ? ann : snn;
      if (wantAnn) ann = null; else snn = null;
      if (open) await (await open).release();
    },
    release: async () => {
      if (snn) await (await snn).release();
      if (ann) await (await ann).release();
      snn = ann = null;
    },
  };
}
