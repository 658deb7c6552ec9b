// The energy proxy's prices: Horowitz (ISSCC 2014, 45 nm), priced by operation and width. A proxy, not a measurement.
import type { EnergyProxy, OpCounts } from './types.js';

/** Horowitz 2014, 45 nm, pJ per operation (the measured points; other widths are interpolated below). */
export const HOROWITZ = {
  int8Add: 0.03, int32Add: 0.1, int8Mult: 0.2, int32Mult: 3.1,
  fp16Add: 0.4, fp16Mult: 1.1, fp32Add: 0.9, fp32Mult: 3.7,
} as const;

/**
 * An integer add of `bits`: linear in the width between the 8- and 32-bit points (a ripple adder's
 * energy grows with its width), and proportional below 8 bits.
 */
export function intAddPicojoules(bits: number): number {
  if (bits <= 8) return HOROWITZ.int8Add * (bits / 8);
  return HOROWITZ.int8Add + ((HOROWITZ.int32Add - HOROWITZ.int8Add) * (bits - 8)) / 24;
}

/** An integer multiply of `bits` × `bits`: linear in bits² between the 8- and 32-bit points (an array multiplier's area). */
export function intMultPicojoules(bits: number): number {
  if (bits <= 8) return HOROWITZ.int8Mult * (bits / 8) ** 2;
  return HOROWITZ.int8Mult + ((HOROWITZ.int32Mult - HOROWITZ.int8Mult) * (bits * bits - 64)) / (1024 - 64);
}

/**
 * Width of the integer synapses' accumulators: every Linear fed by spikes is certified at emission to
 * keep |Σ w·q| < 2^24, so a 25-bit signed accumulator holds every partial sum.
 */
export const ACCUMULATOR_BITS = 25;

/** pJ per counted operation (see OpCounts for what each counts). */
export const PRICES = {
  mac: HOROWITZ.fp32Mult + HOROWITZ.fp32Add,
  add: HOROWITZ.fp32Add,
  mult: HOROWITZ.fp32Mult,
  transcendental: 4 * (HOROWITZ.fp32Mult + HOROWITZ.fp32Add),
  conversion: HOROWITZ.fp32Add,
  sop: intAddPicojoules(ACCUMULATOR_BITS),
  intAdd: intAddPicojoules(ACCUMULATOR_BITS),
  membrane: intAddPicojoules(ACCUMULATOR_BITS),
  intMac: HOROWITZ.int8Mult + HOROWITZ.int32Add,
} as const;

export function picojoules(c: OpCounts): number {
  return c.macs * PRICES.mac + c.adds * PRICES.add + c.mults * PRICES.mult + c.transcendentals * PRICES.transcendental
    + c.conversions * PRICES.conversion + c.sops * PRICES.sop + c.intAdds * PRICES.intAdd + c.membrane * PRICES.membrane + c.intMacs * PRICES.intMac;
}

export const ENERGY_MODEL = {
  label: 'energy proxy (not a measurement), priced by width: fp32 MAC 4.6 pJ, fp32 add/compare 0.9, fp32 mult/divide 3.7, transcendental 18.4 (4 MACs), int↔float conversion 0.9 (as an fp32 add); '
    + `SOP, event weighting (2^k doubling) and membrane update: one ${ACCUMULATOR_BITS}-bit integer add ${PRICES.sop.toFixed(4)} pJ; INT8 MAC (int8 mult + int32 add) 0.3 pJ. Every side counted by one graph walk`,
  picojoules: { ...PRICES },
  source: 'Horowitz, "Computing\'s energy problem", ISSCC 2014 (45 nm): int8 add 0.03, int32 add 0.1, int8 mult 0.2, int32 mult 3.1, fp16 add 0.4 / mult 1.1, fp32 add 0.9 / mult 3.7 pJ; integer adds interpolated linearly in width, multiplies in width²',
} as const;

/** SNN against the FP32 ANN and, when counted, the W8A8 INT8 ANN of the same model. */
export function energyProxy(ann: OpCounts, snn: OpCounts, int8?: OpCounts): EnergyProxy {
  const annPicojoules = picojoules(ann);
  const snnPicojoules = picojoules(snn);
  const int8Picojoules = int8 ? picojoules(int8) : 0;
  return {
    annPicojoules, snnPicojoules, ratio: annPicojoules > 0 ? snnPicojoules / annPicojoules : 0,
    int8Picojoules, ratioInt8: int8Picojoules > 0 ? snnPicojoules / int8Picojoules : 0,
  };
}
