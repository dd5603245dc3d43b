// GeM pooling in plain TypeScript, the same function the exported heads graph computes.
// It runs on every cached row (two exponents over a 7x7x1792 map), so the common exponents
// avoid Math.pow and positions are walked in memory order: the generic loop with `**` cost
// ~7 ms a row, a third of the backbone's own time.

/** The exponents the feature cache pools every row with; a config's model.gemP is one of them. */
export const CACHED_GEM_P: readonly number[] = [1, 3];

/** GeM pooling of one NHWC map: (mean over positions of max(x, eps)^p)^(1/p). */
export function gemPoolNHWC(map: Float32Array, offset: number, positions: number, channels: number, p: number, out: Float32Array, outOffset: number): void {
  const sums = new Float64Array(channels);
  for (let s = 0; s < positions; s++) {
    const base = offset + s * channels;
    if (p === 1) {
      for (let c = 0; c < channels; c++) sums[c]! += Math.max(map[base + c]!, 1e-6);
    } else if (p === 3) {
      for (let c = 0; c < channels; c++) {
        const v = Math.max(map[base + c]!, 1e-6);
        sums[c]! += v * v * v;
      }
    } else {
      for (let c = 0; c < channels; c++) sums[c]! += Math.max(map[base + c]!, 1e-6) ** p;
    }
  }
  for (let c = 0; c < channels; c++) {
    const mean = sums[c]! / positions;
    out[outOffset + c] = p === 1 ? mean : p === 3 ? Math.cbrt(mean) : mean ** (1 / p);
  }
}
