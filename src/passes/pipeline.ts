// The recipes (docs/design.md §2): each a flat list of named passes with a one-line why; the pipeline records what ran.
import { SnnError } from '../errors/index.js';
import type { Graph } from '../ir/types.js';
import { assertValid } from '../ops/verify.js';
import { checkCodeSupports, checkHeadroom, type SpikeCode } from '../ops/spike-code.js';
import { replaceAttentionWithSpike } from './attention-to-spike.js';
import { replaceGeluWithRelu } from './gelu-to-relu.js';
import { insertNeurons } from './insert-neurons.js';
import { replaceLayerNormWithSpike } from './layernorm-to-spike.js';
import { insertReadout } from './readout.js';
import type { PassResult } from './rewrite.js';
import type { Recipe, Timesteps } from '../options/values.js';
import { neuronsOf } from '../ops/spiking.js';

export { RECIPES, parseRecipe, parseTimesteps, type Recipe } from '../options/values.js';

export interface RecipeOptions {
  /** Spike levels per step at a neuron site (multi-level neurons); default 1. */
  readonly levels?: (site: string) => number;
  /** The spike code (docs/design.md §2); default 'weighted'. */
  readonly code?: SpikeCode;
  /** Weighted code: digits of the T reserved above the calibrated range (ops/spike-code.ts unitCount); default 0. */
  readonly headroom?: number;
}

export interface PassStep {
  readonly name: string;
  readonly why: string;
  readonly run: (graph: Graph) => PassResult;
}

export interface PassRecord {
  readonly name: string;
  readonly why: string;
  readonly matched: readonly string[];
}

export function recipePasses(recipe: Recipe, opts: RecipeOptions = {}): PassStep[] {
  const norms: PassStep = { name: 'layernorm-to-spike', why: 'norms become temporal-difference SpikeLayerNorm / SpikeRMSNorm', run: replaceLayerNormWithSpike };
  const attention: PassStep = { name: 'attention-to-spike', why: 'attention becomes SpikeAttention over running means with a T-aggregated KV cache', run: replaceAttentionWithSpike };
  const readout: PassStep = { name: 'readout', why: 'the LM head integrates its spiking input over T (exact: the head is linear)', run: insertReadout };
  const levels = opts.levels ? { levels: opts.levels } : {};
  switch (recipe) {
    case 'faithful':
      return [norms, attention,
        { name: 'insert-neurons', why: 'SignedIF on every Linear input and on Q, K, V: every weight multiply is spike-driven', run: (g) => insertNeurons(g, { kind: 'SignedIF', sites: ['linear-inputs', 'attention-inputs'], ...levels }) },
        readout];
    case 'stac':
      return [{ name: 'gelu-to-relu', why: 'the seed pipeline: ReLU is what an IF rate computes (lossy for a GELU-trained model)', run: replaceGeluWithRelu },
        norms, attention,
        { name: 'insert-neurons', why: 'IF neurons after every ReLU (rate coding), as in the seed pipeline', run: (g) => insertNeurons(g, { kind: 'IF', sites: ['relu-outputs'], ...levels }) },
        readout];
    case 'exact':
      return [norms, attention, readout];
  }
}

/** Runs a recipe's passes in order, verifying the graph after each; marks the graph spiking with T steps (parsed by the caller). */
export function runRecipe(graph: Graph, recipe: Recipe, T: Timesteps, opts: RecipeOptions = {}): { graph: Graph; passes: PassRecord[] } {
  let g = graph;
  const passes: PassRecord[] = [];
  for (const step of recipePasses(recipe, opts)) {
    const result = step.run(g);
    g = assertValid(result.graph, `after pass ${step.name}`);
    passes.push({ name: step.name, why: step.why, matched: result.matched });
  }
  const code = recipe === 'exact' ? 'rate' : opts.code ?? 'weighted';
  const headroom = opts.headroom ?? 0;
  checkHeadroom(code, T, headroom);
  const neurons = neuronsOf(g.nodes);
  for (const { attrs } of neurons) checkCodeSupports(code, T, attrs.levels, attrs.site);
  if (recipe !== 'exact' && neurons.length === 0) {
    // A "spiking" model with no neuron would be a fake: say plainly what the recipe cannot do here.
    throw new SnnError('OPTION_INVALID', {
      message: `the ${recipe} recipe found no site for a neuron in this ${g.spec.arch} model${recipe === 'stac' ? ' (stac puts IF neurons after ReLU/GELU; this model has neither)' : ''}`,
      at: '--recipe',
      hint: `use --recipe faithful (neurons on every Linear input) or exact`,
    });
  }
  return { graph: { ...g, spiking: { timesteps: T, recipe, code, ...(code === 'weighted' ? { headroom } : {}), tdConvention: 'mean' } }, passes };
}
