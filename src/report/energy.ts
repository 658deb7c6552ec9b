// SPEC §6's energy proxy: operation counts priced with Horowitz (ISSCC 2014) 45 nm fp32 figures. A proxy, not a measurement.
import type { EnergyProxy } from './types.js';

/** pJ per fp32 multiply-accumulate (Horowitz 2014: 3.7 pJ mult + 0.9 pJ add). */
export const PICOJOULES_PER_MAC = 4.6;
/** pJ per synaptic operation: one fp32 add (Horowitz 2014). */
export const PICOJOULES_PER_SOP = 0.9;

export const ENERGY_MODEL = {
  label: 'energy proxy (not a measurement): E_ANN = 4.6 pJ × MACs; E_SNN = 0.9 pJ × SOPs + 4.6 pJ × float MACs',
  picojoulesPerMac: PICOJOULES_PER_MAC,
  picojoulesPerSop: PICOJOULES_PER_SOP,
  source: 'Horowitz, "Computing\'s energy problem", ISSCC 2014 (45 nm, fp32)',
} as const;

export function energyProxy(annMacs: number, sops: number, snnFloatMacs: number): EnergyProxy {
  const annPicojoules = PICOJOULES_PER_MAC * annMacs;
  const snnPicojoules = PICOJOULES_PER_SOP * sops + PICOJOULES_PER_MAC * snnFloatMacs;
  return { annPicojoules, snnPicojoules, ratio: annPicojoules > 0 ? snnPicojoules / annPicojoules : 0 };
}
