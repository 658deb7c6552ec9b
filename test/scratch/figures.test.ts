import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'vitest';
import { convert } from '../../src/convert.js';
import { countOps } from '../../src/report/op-costs.js';
import { EventSession } from '../../src/reference/session.js';
import { loadBundle } from '../../src/runtime/model.js';
import { loadEventBundle } from '../../src/reference/load.js';
import { windowInput } from '../../src/runtime/windows.js';
import { GPT2_DIR, LLAMA_DIR, tempDir } from '../helpers.js';

it('figures', async () => {
  for (const [name, dir] of [['gpt2', GPT2_DIR], ['llama', LLAMA_DIR]] as const) {
    for (const code of ['weighted', 'rate'] as const) {
      const heldout = [...readFileSync(join(dir, 'heldout.txt'))];
      const opts = code === 'rate' ? { code, timesteps: 6, ...(name === 'gpt2' ? { levels: 'ln_1=2,mlp.act=2' } : {}), calibration: { samples: 8, length: 64 } } : {};
      const { bundlePath } = await convert(dir, { ...opts, out: join(tempDir('snn-fig-'), 'm.snn') });
      const closed = await loadBundle(bundlePath);
      const events = await loadEventBundle(bundlePath);
      const sim = (await events.session(false)) as EventSession;
      const outputs = closed.spikeOutputs.map((s) => s.output);
      let windows = 0, tokens = 0, logits = 0, logitsDiffer = 0, spikesCmp = 0, spikesDiffer = 0, sopsRef = 0, sopsReport = 0;
      const W = code === 'rate' ? 64 : 128;
      for (const start of [0, 10_000, 20_000, 40_000]) {
        const ids = heldout.slice(start, start + W);
        const before = new Map(sim.sops);
        const a = await (await closed.session(false)).run(windowInput(ids, [0], ids.length), outputs);
        const b = await sim.run(windowInput(ids, [0], ids.length), outputs);
        const spt = new Map<string, number>();
        for (const s of closed.spikeOutputs) {
          const x = a.extra.get(s.output)!, y = b.extra.get(s.output)!;
          let sp = 0;
          for (let i = 0; i < x.data.length; i++) { spikesCmp++; if (x.data[i] !== y.data[i]) spikesDiffer++; sp += Math.abs(x.data[i]!); }
          const neuron = closed.contents.graph.nodes.find((n) => n.op === 'Neuron' && n.attrs['site'] === s.site)!;
          spt.set(neuron.outputs[0]!, sp / ids.length);
        }
        const ua = new Uint32Array(a.logits.buffer, a.logits.byteOffset, a.logits.length), ub = new Uint32Array(b.logits.buffer, b.logits.byteOffset, b.logits.length);
        for (let i = 0; i < ua.length; i++) { logits++; if (ua[i] !== ub[i]) logitsDiffer++; }
        sopsReport += countOps(closed.contents.graph, { window: ids.length, spikesPerToken: (v) => spt.get(v) ?? 0 }).reduce((acc, r) => acc + r.snn.sops, 0) * ids.length;
        sopsRef += [...sim.sops].reduce((acc, [node, n]) => acc + n - (before.get(node) ?? 0), 0);
        windows++; tokens += ids.length;
      }
      console.log(`FIG ${name} ${code}: windows ${windows} × ${W} tokens = ${tokens}; logits ${logits}, differ ${logitsDiffer}; spike values ${spikesCmp}, differ ${spikesDiffer}; SOPs reference ${sopsRef}, report ${Math.round(sopsReport)}`);
      await closed.release(); await events.release();
    }
  }
}, 1_200_000);
