// The event reference behind the runtime's session interface: `--simulate events` / loadBundle(p, { simulate: 'events' }).
import { SnnError } from '../errors/index.js';
import type { BundleContents } from '../bundle/read.js';
import { ModelSession, type KvStepOutput, type RunOptions, type StepInput, type StepOutput } from '../runtime/session.js';
import { EventSimulator, modelOutputsOf, type SimulationInput } from './simulator.js';

/**
 * A ModelSession whose every call runs the event simulator (on the CPU). Spike planes `spikes/<site>`
 * and clipped trains `saturation/<site>` come from the simulated neurons; `sops` adds up the synaptic
 * operations per node over every call (simulator.ts SimulationResult.sops).
 */
export class EventSession extends ModelSession {
  private readonly performed = new Map<string, number>();
  private tokenCount = 0;

  private constructor(contents: BundleContents, private readonly sim: EventSimulator) {
    // The base class's onnxruntime session is never used: run, observe and release are all overridden.
    super(contents.graph.spec, sim.anySession(), contents.timesteps, contents.meta.neurons.flatMap((n) => [n.output, `saturation/${n.site}`]), 'cpu');
  }

  static async open(contents: BundleContents): Promise<EventSession> {
    return new EventSession(contents, await EventSimulator.open(contents));
  }

  /** Synaptic operations so far, per node id (Linears; rate attention and readout running sums). */
  get sops(): ReadonlyMap<string, number> { return this.performed; }
  /** Token positions simulated so far (rows × new tokens, summed over calls). */
  get tokens(): number { return this.tokenCount; }

  override run(input: StepInput, extra?: readonly string[]): Promise<StepOutput>;
  override run(input: StepInput, extra: readonly string[], opts: RunOptions): Promise<KvStepOutput>;
  override async run(input: StepInput, extra: readonly string[] = []): Promise<KvStepOutput> {
    const cache = input.cache.map((b) => {
      if (!(b instanceof Float32Array)) throw new SnnError('OPTION_INVALID', { message: 'the event reference runs on the CPU; its cache must be host memory', at: '--simulate events', hint: 'use --device cpu with --simulate events' });
      return b;
    });
    const simInput: SimulationInput = { batch: input.batch, seq: input.seq, ids: input.ids, mask: input.mask, positions: input.positions, past: input.past, cache };
    const result = await this.sim.run(simInput);
    for (const [node, n] of result.sops) this.performed.set(node, (this.performed.get(node) ?? 0) + n);
    this.tokenCount += input.batch * input.seq;
    const { logits, present } = modelOutputsOf(this.sim.graph, result);
    const extraOut = new Map(extra.map((name) => {
      const [kind, site] = [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)];
      const t = kind === 'spikes' ? result.spikes.get(site) : kind === 'saturation' ? result.saturation.get(site) : undefined;
      if (!t) throw new SnnError('OPTION_INVALID', { message: `the event reference has no output ${JSON.stringify(name)}`, at: '--simulate events', hint: 'ask for spikes/<site> or saturation/<site>' });
      return [name, { data: t.data, dims: t.dims }] as const;
    }));
    return { logits, present, extra: extraOut };
  }

  override observe(): Promise<Map<string, Float32Array>> {
    return Promise.reject(new SnnError('OPTION_INVALID', { message: 'the event reference exposes spikes, not observed values', at: '--simulate events', hint: 'observe on the closed form (the default)' }));
  }

  override async release(): Promise<void> {
    await this.sim.release();
  }
}
