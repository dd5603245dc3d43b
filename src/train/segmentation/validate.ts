// Validation of the decoder being trained: the held-out photos' cached maps through the
// decoder, upsampled to each photo's own size as the pipeline does, scored against the
// full-resolution masks (strictly, and with the training merge applied to the masks).
import { mergeMask, type ClassMap } from '../../segment/classes.ts';
import { labelMapFromLogits, type OutputGrid } from '../../segment/grid.ts';
import { Confusion } from '../../segment/metrics.ts';
import type { Tap } from '../../segment/taps.ts';
import { tf } from '../tf.ts';
import { decoderForward, type DecoderVars } from './decoder-tf.ts';
import type { ViewFeatures } from './feature-cache.ts';
import { batchMaps, type TapStatistics } from './tap-maps.ts';
import type { SegmentTrunkTraining } from './trunk-training.ts';

export interface ValidationFigures {
  images: number;
  pixelAccuracy: number;
  meanIoU: number;
  /** Labels present in the held-out masks, with IoU. */
  perLabel: Array<{ label: string; pixelShare: number; iou: number }>;
  /** The same against masks with the training merge applied (equal to the above without merges). */
  merged?: { pixelAccuracy: number; meanIoU: number; labelsPresent: number };
}

export interface ValPhoto {
  name: string;
  features: ViewFeatures;
  mask: Uint8Array;
}

async function predictLogits(vars: DecoderVars, views: readonly Uint16Array[], stats: TapStatistics, taps: readonly Tap[], size: readonly [number, number], trunk?: SegmentTrunkTraining, chunk = 16): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let start = 0; start < views.length; start += chunk) {
    const part = views.slice(start, start + chunk);
    const first = trunk ? await trunk.maps(part) : undefined;
    const logits = tf.tidy(() => decoderForward(vars, batchMaps(part, stats, taps, size, first), { standardised: true }));
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    const per = data.length / part.length;
    for (let i = 0; i < part.length; i++) out.push(data.slice(i * per, (i + 1) * per));
  }
  return out;
}

export interface Scoring {
  grid: OutputGrid;
  map: ClassMap;
  merged: boolean;
  taps: readonly Tap[];
  size: readonly [number, number];
  trunk?: SegmentTrunkTraining;
}

export async function validate(vars: DecoderVars, stats: TapStatistics, photos: readonly ValPhoto[], scoring: Scoring): Promise<ValidationFigures> {
  const { grid, map, merged } = scoring;
  const strict = new Confusion(map.labels.length);
  const mergedConfusion = new Confusion(map.labels.length);
  const logits = await predictLogits(vars, photos.map((p) => p.features.maps), stats, scoring.taps, scoring.size, scoring.trunk);
  photos.forEach((photo, i) => {
    const predicted = labelMapFromLogits(logits[i]!, grid, photo.features.geometry, map.classLabels);
    strict.add(predicted, photo.mask);
    if (merged) mergedConfusion.add(predicted, mergeMask(photo.mask, map));
  });
  return figures(strict, map.labels, photos.length, merged ? mergedConfusion : undefined);
}

export function figures(confusion: Confusion, labels: readonly string[], images: number, merged?: Confusion): ValidationFigures {
  const total = confusion.total;
  const perLabel = confusion
    .perLabel()
    .filter((l) => l.pixels > 0)
    .map((l) => ({ label: labels[l.label]!, pixelShare: l.pixels / total, iou: l.iou ?? 0 }));
  return {
    images,
    pixelAccuracy: confusion.pixelAccuracy(),
    meanIoU: confusion.meanIoU(),
    perLabel,
    ...(merged ? { merged: { pixelAccuracy: merged.pixelAccuracy(), meanIoU: merged.meanIoU(), labelsPresent: merged.perLabel().filter((l) => l.pixels > 0).length } } : {}),
  };
}
