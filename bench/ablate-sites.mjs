#!/usr/bin/env node
// Which neuron sites cost fidelity? Removes one site's neuron at a time from a faithful bundle (that site
// then passes its analog value on) and measures the SNN/ANN perplexity ratio on held-out text.
// Usage: node bench/ablate-sites.mjs BUNDLE.snn [TEXT] [WINDOWS]   (after `npm run build`)
import { readFileSync, writeFileSync } from 'node:fs';
import { evaluate } from '../dist/runtime/evaluate.js';
import { loadBundle } from '../dist/runtime/model.js';
import { openGraphSession } from '../dist/open/graph-session.js';

const [bundlePath, text = 'fixtures/shakespeare-gpt2/heldout.txt', windows = '24'] = process.argv.slice(2);
if (!bundlePath) { console.error('usage: node bench/ablate-sites.mjs BUNDLE.snn [TEXT] [WINDOWS]'); process.exit(2); }
const bundle = await loadBundle(bundlePath);
const ids = bundle.tokenizer.encode(readFileSync(text, 'utf8'));
const window = bundle.spec.maxPositions;
const stride = Math.floor((ids.length - window) / (Number(windows) - 1));
const graph = bundle.contents.graph;

/** The graph without the neurons whose site matches `keep`: their consumers read the analog input. */
function withoutNeurons(drop) {
  const removed = new Map(graph.nodes.filter((n) => n.op === 'Neuron' && drop(n.attrs.site)).map((n) => [n.outputs[0], n.inputs[0]]));
  const nodes = graph.nodes.filter((n) => !(n.op === 'Neuron' && drop(n.attrs.site))).map((n) => ({ ...n, inputs: n.inputs.map((v) => removed.get(v) ?? v) }));
  return { ...graph, nodes };
}

async function ratio(g) {
  const session = await openGraphSession(g, 'snn');
  const r = await evaluate(bundle, ids, { window, stride, snnSession: session });
  await session.release();
  return r;
}

const base = await ratio(graph);
const rows = [];
const sites = bundle.meta.neurons.map((n) => n.site);
const groups = [...new Set(sites.map((s) => s.replace(/^h\.\d+\.|^layers\.\d+\./, '')))];
for (const group of groups) {
  const r = await ratio(withoutNeurons((s) => s.replace(/^h\.\d+\.|^layers\.\d+\./, '') === group));
  rows.push({ kind: 'group', name: group, ratio: r.ratio, gain: base.ratio - r.ratio });
  console.error(`group ${group}: ${r.ratio.toFixed(4)}`);
}
for (const site of sites) {
  const r = await ratio(withoutNeurons((s) => s === site));
  rows.push({ kind: 'site', name: site, ratio: r.ratio, gain: base.ratio - r.ratio });
  console.error(`site ${site}: ${r.ratio.toFixed(4)}`);
}
const levels = Object.fromEntries(bundle.meta.neurons.map((n) => [n.site, n.levels]));
const table = (kind) => rows.filter((r) => r.kind === kind).sort((a, b) => b.gain - a.gain)
  .map((r) => `| ${r.name} | ${kind === 'site' ? levels[r.name] : ''} | ${r.ratio.toFixed(4)} | ${(100 * r.gain).toFixed(2)} |`).join('\n');
const md = `# Neuron-site ablation

Bundle \`${bundlePath}\` (recipe ${bundle.recipe}, T=${bundle.timesteps}); ${base.windows} windows of ${window} tokens spread over \`${text}\`.
With every neuron in place the SNN/ANN perplexity ratio is **${base.ratio.toFixed(4)}**. Each row removes the neuron(s) named
(that value then flows on as an analog signal) and gives the ratio without them; "gain" is how many percentage points
of the ratio those neurons cost. Made by \`node bench/ablate-sites.mjs\` on ${new Date().toISOString().slice(0, 10)}.

## By site kind (all layers at once)
| site kind | | ratio without | gain (pp) |
|---|---|---|---|
${table('group')}

## One site at a time
| site | levels | ratio without | gain (pp) |
|---|---|---|---|
${table('site')}
`;
writeFileSync(process.argv[5] ?? 'bench/ABLATION.md', md);
console.log(md);
await bundle.release();
