// The cached tap maps as the decoder's input: per-channel statistics over the training views
// (the coarsest level's from the trunk being fine-tuned, where there is one) and batches of
// the maps unpacked from float16 and standardised with them.
import { BLOCK16 } from '../../model/upper-trunk/block16.ts';
import { tapSize, type Tap } from '../../segment/taps.ts';
import { unpackHalf } from '../../util/float16.ts';
import { tf } from '../tf.ts';
import type { SegmentTrunkTraining } from './trunk-training.ts';

export type TapStatistics = Array<{ mean: Float32Array; std: Float32Array }>;

/**
 * Float32 NHWC batches of each decoder level, from the cached float16 views (taps in cache
 * order), standardised per channel on the way (in the unpacking loop, where it costs
 * nothing, rather than as tensor ops). `first`, when given, is the coarsest level's map
 * computed by a trunk being fine-tuned; the cache then holds that trunk's input there.
 */
export function batchMaps(views: readonly Uint16Array[], stats: TapStatistics, taps: readonly Tap[], inputSize: readonly [number, number], first?: Float32Array): tf.Tensor4D[] {
  let offset = 0;
  return taps.map((tap, t) => {
    const [h, w] = tapSize(inputSize, tap.stride);
    const cached = h * w * tap.channels;
    const { mean, std } = stats[t]!;
    const c = mean.length;
    const size = h * w * c;
    const inverse = Float32Array.from(std, (s) => 1 / s);
    const data = t === 0 && first ? Float32Array.from(first) : new Float32Array(size * views.length);
    if (data.length !== size * views.length) throw new Error(`level ${t}: ${data.length} values for ${views.length} maps of ${size}`);
    views.forEach((v, i) => {
      const base = i * size;
      if (!(t === 0 && first)) unpackHalf(v.subarray(offset, offset + cached), data, base);
      for (let j = 0; j < size; j++) {
        const k = j % c;
        data[base + j] = (data[base + j]! - mean[k]!) * inverse[k]!;
      }
    });
    offset += cached;
    return tf.tensor4d(data, [views.length, h, w, c]);
  });
}

/** Accumulates per-channel mean and standard deviation over NHWC maps. */
class ChannelStatistics {
  private readonly sum: Float64Array;
  private readonly squares: Float64Array;
  private n = 0;

  constructor(private readonly channels: number) {
    this.sum = new Float64Array(channels);
    this.squares = new Float64Array(channels);
  }

  add(values: Float32Array): void {
    const c = this.channels;
    for (let i = 0; i < values.length; i++) {
      const k = i % c;
      this.sum[k]! += values[i]!;
      this.squares[k]! += values[i]! * values[i]!;
    }
    this.n += values.length / c;
  }

  result(): { mean: Float32Array; std: Float32Array } {
    const mean = Float32Array.from(this.sum, (s) => s / this.n);
    // A floor on the deviation: some channels are dead (always 0) on these photos.
    const std = Float32Array.from(this.squares, (s, k) => Math.sqrt(Math.max(0, s / this.n - mean[k]! ** 2)) + 1e-2);
    return { mean, std };
  }
}

/**
 * Per-channel mean and standard deviation of each level over the training views; the
 * coarsest level's from `trunk` when it computes that level.
 */
export async function tapStatistics(views: readonly Uint16Array[], taps: readonly Tap[], inputSize: readonly [number, number], trunk?: SegmentTrunkTraining): Promise<TapStatistics> {
  let offset = 0;
  const out: TapStatistics = [];
  for (const [t, tap] of taps.entries()) {
    const [h, w] = tapSize(inputSize, tap.stride);
    const size = h * w * tap.channels;
    if (t === 0 && trunk) {
      const stats = new ChannelStatistics(BLOCK16.out);
      for (let start = 0; start < views.length; start += 32) stats.add(await trunk.maps(views.slice(start, start + 32)));
      out.push(stats.result());
    } else {
      const stats = new ChannelStatistics(tap.channels);
      const values = new Float32Array(size);
      for (const v of views) {
        unpackHalf(v.subarray(offset, offset + size), values);
        stats.add(values);
      }
      out.push(stats.result());
    }
    offset += size;
  }
  return out;
}
