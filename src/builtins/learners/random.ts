/**
 * A small seeded generator (mulberry32): the same seed gives the same
 * sequence on every platform, so a split or a bootstrap sample is
 * reproducible from the run's `seed`.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 0, 1, ..., n - 1 in an order shuffled by `random` (Fisher-Yates). */
export function shuffledIndexes(n: number, random: () => number): number[] {
  const indexes = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [indexes[i], indexes[j]] = [indexes[j] as number, indexes[i] as number];
  }
  return indexes;
}
