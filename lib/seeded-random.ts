/**
 * mulberry32: a small seeded pseudo-random generator returning numbers in [0, 1). Benchmarks and
 * generated fixtures use it so that a run's data (and faults) can be reproduced byte for byte;
 * nothing security-related may use it.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
