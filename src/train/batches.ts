// The batches of each epoch of the joint fit: which rows each training step sees.
import { rng } from '../util/random.ts';
import type { FitInput } from './fit-types.ts';

/**
 * The batches of one epoch, a pure function of (seed, epoch) so a resumed run replays the
 * same batches. With row weights, rows are drawn with replacement in proportion to them
 * (datasets mixed by sampling weight); otherwise each row is seen once. With pairs, each
 * anchor brings its partner into the batch.
 */
export function epochBatches(input: Pick<FitInput, 'trainRows' | 'rowWeights' | 'batchSize' | 'seed' | 'pairs'>, epoch: number): number[][] {
  const random = rng(input.seed * 7919 + epoch + 1);
  const rows = Array.from(input.trainRows);
  const anchorsPerBatch = input.pairs ? Math.max(1, Math.floor(input.batchSize / 2)) : input.batchSize;
  let order: number[];
  if (input.rowWeights) {
    const cumulative = new Float64Array(rows.length);
    let total = 0;
    rows.forEach((r, i) => {
      total += input.rowWeights![r]!;
      cumulative[i] = total;
    });
    order = Array.from({ length: rows.length }, () => {
      const x = random() * total;
      let lo = 0;
      let hi = rows.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid]! < x) lo = mid + 1;
        else hi = mid;
      }
      return rows[lo]!;
    });
  } else {
    order = rows;
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
  }
  const stepsPerEpoch = Math.ceil(rows.length / input.batchSize);
  const batches: number[][] = [];
  for (let s = 0; s < stepsPerEpoch; s++) {
    const anchors = order.slice(s * anchorsPerBatch, (s + 1) * anchorsPerBatch);
    if (anchors.length === 0) break;
    if (!input.pairs) {
      batches.push(anchors);
      continue;
    }
    const batch = [...anchors];
    for (const a of anchors) {
      const p = input.pairs.partner[a]!;
      if (p >= 0 && batch.length < input.batchSize) batch.push(p);
    }
    batches.push(batch);
  }
  return batches;
}
