// The one seeded PRNG of the project (calibration windows, sampling, fixtures, tests).

/**
 * mulberry32: a small 32-bit PRNG, uniform in [0, 1); the same seed gives the same stream on every platform.
 * @example
 * const a = mulberry32(42), b = mulberry32(42);
 * a() === b(); // true
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
