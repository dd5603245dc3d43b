// GeM pooling in plain TypeScript, the same function the exported heads graph computes.

/** GeM pooling of one NHWC map: (mean over positions of max(x, eps)^p)^(1/p). */
export function gemPoolNHWC(map: Float32Array, offset: number, positions: number, channels: number, p: number, out: Float32Array, outOffset: number): void {
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let s = 0; s < positions; s++) sum += Math.max(map[offset + s * channels + c]!, 1e-6) ** p;
    out[outOffset + c] = (sum / positions) ** (1 / p);
  }
}
