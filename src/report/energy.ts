// SPEC §6's energy proxy: operation counts priced with Horowitz (ISSCC 2014) 45 nm fp32 figures. A proxy, not a measurement.
import { picojoules, PRICES } from './op-costs.js';
import type { EnergyProxy, OpCounts } from './types.js';

export const ENERGY_MODEL = {
  label: 'energy proxy (not a measurement): E = 4.6 pJ × float MACs + 0.9 pJ × SOPs + 0.9 pJ × elementwise adds/compares + 3.7 pJ × elementwise mults + 18.4 pJ (4 MACs) × transcendentals + 0.9 pJ × membrane updates, both sides counted by one graph walk',
  picojoules: { ...PRICES },
  source: 'Horowitz, "Computing\'s energy problem", ISSCC 2014 (45 nm, fp32)',
} as const;

export function energyProxy(ann: OpCounts, snn: OpCounts): EnergyProxy {
  const annPicojoules = picojoules(ann);
  const snnPicojoules = picojoules(snn);
  return { annPicojoules, snnPicojoules, ratio: annPicojoules > 0 ? snnPicojoules / annPicojoules : 0 };
}
