// Turns loaded datasets into training rows: one row per image and augmented view, with
// the labels of every task that row's dataset supervises (others masked), product ids for
// ArcFace, groups and partners for the contrastive loss, and sampling weights that mix
// datasets by their configured share.
import { QUERY_VIEW, pickView, viewRef } from './augment.ts';
import { datasetViews, type DatasetConfig } from './config.ts';
import type { LabelledDataset, Sample } from './datasets/types.ts';

export interface Row {
  ref: string;
  sample: Sample;
  /** Index of the sample this row shows (views share it). */
  sampleIndex: number;
  view?: string;
}

export interface TrainingRows {
  rows: Row[];
  samples: Sample[];
  /** Per row: group (same product or same photo) for the contrastive loss. */
  group: Int32Array;
  /** Per row: the row to pair with (its mirrored view, or its product's catalog image), -1 if none. */
  partner: Int32Array;
  /** Per row: product index for ArcFace, -1 where none or not a training row. */
  productIds: Int32Array;
  productCount: number;
  /** Per row: sampling weight (dataset weight / dataset's training rows). */
  rowWeights: Float32Array;
  trainRows: Int32Array;
  /** Validation rows showing the original images (no views). */
  valRows: Int32Array;
  /** Validation rows of augmented views, for augmented-view retrieval: view row -> original row. */
  valViews: Array<{ view: number; original: number }>;
}

/** `keep` drops rows whose image could not be read (decided after feature extraction). */
export function buildRows(datasets: Array<{ config: DatasetConfig; data: LabelledDataset }>, keep: (ref: string) => boolean = () => true): TrainingRows {
  const rows: Row[] = [];
  const samples: Sample[] = [];
  const datasetOfRow: number[] = [];
  const valViewPairs: Array<{ viewRow: number; originalRow: number }> = [];
  datasets.forEach(({ config, data }, d) => {
    const trainViews = datasetViews(config);
    for (const sample of data.samples) {
      if (!keep(sample.path)) continue;
      const sampleIndex = samples.push(sample) - 1;
      const original = rows.push({ ref: sample.path, sample, sampleIndex }) - 1;
      datasetOfRow.push(d);
      // Training images get their configured views; validation images of augmented datasets get
      // one crop view, the query of the augmented-view retrieval measure.
      const views = sample.split === 'train' ? trainViews.map((entry) => pickView(entry, sample.path)) : trainViews.length > 0 ? [QUERY_VIEW] : [];
      for (const view of views) {
        if (!keep(viewRef(sample.path, view))) continue;
        const r = rows.push({ ref: viewRef(sample.path, view), sample, sampleIndex, view }) - 1;
        datasetOfRow.push(d);
        if (sample.split === 'val') valViewPairs.push({ viewRow: r, originalRow: original });
      }
    }
  });

  const n = rows.length;
  const group = new Int32Array(n).fill(-1);
  const partner = new Int32Array(n).fill(-1);
  const productIds = new Int32Array(n).fill(-1);
  const productIndex = new Map<string, number>();
  const groupIndex = new Map<string, number>();
  const catalogRowOf = new Map<string, number>();
  rows.forEach((row, r) => {
    const key = row.sample.productId ?? `sample:${row.sampleIndex}`;
    if (!groupIndex.has(key)) groupIndex.set(key, groupIndex.size);
    group[r] = groupIndex.get(key)!;
    if (row.sample.split === 'train' && row.sample.productId) {
      if (!productIndex.has(row.sample.productId)) productIndex.set(row.sample.productId, productIndex.size);
      productIds[r] = productIndex.get(row.sample.productId)!;
      if (row.sample.catalogImage && !row.view) catalogRowOf.set(row.sample.productId, r);
    }
  });
  // Partners: a photo of a product pairs with its catalog image (the exact-product pair);
  // otherwise an original pairs with its first view and a view with its original.
  const firstViewOf = new Map<number, number>();
  rows.forEach((row, r) => {
    if (row.view && !firstViewOf.has(row.sampleIndex)) firstViewOf.set(row.sampleIndex, r);
  });
  const originalOf = new Map<number, number>();
  rows.forEach((row, r) => {
    if (!row.view) originalOf.set(row.sampleIndex, r);
  });
  rows.forEach((row, r) => {
    if (row.sample.split !== 'train') return;
    const catalog = row.sample.productId && !row.sample.catalogImage ? catalogRowOf.get(row.sample.productId) : undefined;
    if (catalog !== undefined) partner[r] = catalog;
    else if (!row.view) partner[r] = firstViewOf.get(row.sampleIndex) ?? -1;
    else partner[r] = originalOf.get(row.sampleIndex) ?? -1;
  });

  const trainCount = new Map<number, number>();
  rows.forEach((row, r) => {
    if (row.sample.split === 'train') trainCount.set(datasetOfRow[r]!, (trainCount.get(datasetOfRow[r]!) ?? 0) + 1);
  });
  const rowWeights = new Float32Array(n);
  rows.forEach((row, r) => {
    if (row.sample.split !== 'train') return;
    const d = datasetOfRow[r]!;
    rowWeights[r] = datasets[d]!.config.weight / trainCount.get(d)!;
  });

  return {
    rows,
    samples,
    group,
    partner,
    productIds,
    productCount: productIndex.size,
    rowWeights,
    trainRows: Int32Array.from(rows.map((row, r) => (row.sample.split === 'train' ? r : -1)).filter((r) => r >= 0)),
    valRows: Int32Array.from(rows.map((row, r) => (row.sample.split === 'val' && !row.view ? r : -1)).filter((r) => r >= 0)),
    valViews: valViewPairs.map((p) => ({ view: p.viewRow, original: p.originalRow })),
  };
}
