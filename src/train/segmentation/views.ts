// The segmentation trainer's data: the masked photos split into training and validation, the
// cached views each training photo gets (the photo, mirrored, cropped), the masks pooled into
// the decoder's output grid as soft targets (the share of each class in a cell, through the
// letterbox geometry), and the class priors and weights those targets give.
import path from 'node:path';
import { buildClassMap, type ClassMap } from '../../segment/classes.ts';
import { cellTargets, sameConvGrid, type OutputGrid } from '../../segment/grid.ts';
import { SEGMENT_TAPS } from '../../segment/taps.ts';
import { rng } from '../../util/random.ts';
import { hashSplit } from '../datasets/split.ts';
import type { SegmentTrainConfig } from './config.ts';
import { crop, loadMaskedPhotos, mirror, randomCrops, readMask, VAL_FRACTION, type MaskedDataset, type MaskedPhoto } from './dataset.ts';
import type { ViewFeatures, ViewRef } from './feature-cache.ts';
import type { ValPhoto } from './validate.ts';

export interface PhotoSplit {
  dataset: MaskedDataset;
  train: MaskedPhoto[];
  val: MaskedPhoto[];
}

/** The photos to train on and to validate on (`validateOn`: the held-out split, or a dev part of the train split). */
export async function splitPhotos(config: SegmentTrainConfig, log: (line: string) => void): Promise<PhotoSplit> {
  const dataset = await loadMaskedPhotos(path.join(config.datasets, 'clothing-parsing'));
  const limit = config.maxPhotos ?? Infinity;
  const trainSplit = dataset.photos.filter((p) => p.split === 'train');
  const isDev = (p: MaskedPhoto): boolean => hashSplit(`${p.name}#dev`, VAL_FRACTION) === 'val';
  const train = (config.validateOn === 'dev' ? trainSplit.filter((p) => !isDev(p)) : trainSplit).slice(0, limit);
  const val = (config.validateOn === 'dev' ? trainSplit.filter(isDev) : dataset.photos.filter((p) => p.split === 'val')).slice(0, limit);
  log(`${dataset.photos.length} masked photos: ${train.length} train, ${val.length} ${config.validateOn}`);
  return { dataset, train, val };
}

export interface PhotoViews {
  orig: ViewRef;
  flip?: ViewRef;
  crops: ViewRef[];
}

/** The views each photo is cached as: a training photo's mirrored and cropped ones too (crops drawn from the seed). */
export function viewRefs(config: SegmentTrainConfig, split: PhotoSplit): Map<MaskedPhoto, PhotoViews> {
  const refs = new Map<MaskedPhoto, PhotoViews>();
  const cropRandom = rng(config.seed * 31 + 5);
  for (const p of split.train) {
    const crops = randomCrops(config.cropViews, config.cropScale, cropRandom).map((box, i) => ({ photo: p.photo, flip: config.flip && i % 2 === 1, crop: box }));
    refs.set(p, { orig: { photo: p.photo, flip: false }, ...(config.flip ? { flip: { photo: p.photo, flip: true } } : {}), crops });
  }
  for (const p of split.val) refs.set(p, { orig: { photo: p.photo, flip: false }, crops: [] });
  return refs;
}

/** Every view of every photo, in the order the feature cache reads them. */
export function allViews(refs: ReadonlyMap<MaskedPhoto, PhotoViews>): ViewRef[] {
  return [...refs.values()].flatMap((r) => [r.orig, ...(r.flip ? [r.flip] : []), ...r.crops]);
}

export interface TrainView {
  maps: Uint16Array;
  targets: Float32Array;
  valid: Uint8Array;
}

export interface TrainingPhoto {
  orig: TrainView;
  flip?: TrainView;
  crops: TrainView[];
}

export interface TrainingSet {
  map: ClassMap;
  grid: OutputGrid;
  train: TrainingPhoto[];
  val: ValPhoto[];
}

/**
 * The decoder's classes (the labels the training masks have pixels of, merged as asked), its
 * output grid, and each usable photo's views with their targets. A photo whose mask is not
 * the size of the photo is skipped, with a line in the log.
 */
export async function trainingSet(
  config: SegmentTrainConfig,
  split: PhotoSplit,
  refs: ReadonlyMap<MaskedPhoto, PhotoViews>,
  features: ReadonlyMap<ViewRef, ViewFeatures>,
  log: (line: string) => void,
): Promise<TrainingSet> {
  const { masks, trainPixels } = await readMasks(split, refs, features, log);
  const { labels } = split.dataset;
  const map = buildClassMap(labels, config.merge, (label) => trainPixels[labels.indexOf(label)]! > 0);
  const classes = map.classLabels.length;
  const finest = SEGMENT_TAPS[SEGMENT_TAPS.length - 1]!;
  const grid = sameConvGrid(config.inputSize, finest.stride);
  log(`${classes} classes; output grid ${grid.height}x${grid.width}`);

  const train: TrainingPhoto[] = [];
  for (const p of split.train) {
    const mask = masks.get(p);
    const r = refs.get(p)!;
    const orig = features.get(r.orig);
    if (!mask || !orig) continue;
    const { width, height } = orig.geometry.original;
    const view = (f: ViewFeatures, m: Uint8Array): TrainView => ({ maps: f.maps, ...cellTargets(m, f.geometry, grid, map.classOfLabel, classes) });
    const flipped = r.flip ? features.get(r.flip) : undefined;
    const crops = r.crops.flatMap((ref) => {
      const f = features.get(ref);
      if (!f || !ref.crop) return [];
      const region = crop(ref.flip ? mirror(mask, width, height, 1) : mask, width, height, 1, ref.crop);
      return [view(f, region.data)];
    });
    train.push({ orig: view(orig, mask), ...(flipped ? { flip: view(flipped, mirror(mask, width, height, 1)) } : {}), crops });
  }
  const val: ValPhoto[] = split.val.flatMap((p) => {
    const f = features.get(refs.get(p)!.orig);
    const mask = masks.get(p);
    return f && mask ? [{ name: p.name, features: f, mask }] : [];
  });
  return { map, grid, train, val };
}

/** Each photo's mask (those with features and the photo's size), and the training masks' pixel count per label. */
async function readMasks(split: PhotoSplit, refs: ReadonlyMap<MaskedPhoto, PhotoViews>, features: ReadonlyMap<ViewRef, ViewFeatures>, log: (line: string) => void) {
  const masks = new Map<MaskedPhoto, Uint8Array>();
  const trainPixels = new Float64Array(split.dataset.labels.length);
  const inTrain = new Set(split.train);
  for (const p of [...split.train, ...split.val]) {
    const f = features.get(refs.get(p)!.orig);
    if (!f) continue;
    const mask = await readMask(p.mask);
    if (mask.width !== f.geometry.original.width || mask.height !== f.geometry.original.height) {
      log(`skipping ${p.name}: mask ${mask.width}x${mask.height}, photo ${f.geometry.original.width}x${f.geometry.original.height}`);
      continue;
    }
    masks.set(p, mask.data);
    if (inTrain.has(p)) for (const v of mask.data) trainPixels[v]! += 1;
  }
  return { masks, trainPixels };
}

export interface ClassWeighting {
  /** Each class's share of the training cells' targets (the classifier's starting biases are their logs). */
  prior: Float64Array;
  /** (prior / largest prior) ^ -classWeightPower, capped, normalised so the average target weighs 1. */
  classWeights: Float32Array;
}

export function classWeighting(train: readonly TrainingPhoto[], classes: number, config: Pick<SegmentTrainConfig, 'classWeightPower' | 'classWeightCap'>): ClassWeighting {
  const prior = new Float64Array(classes);
  let cells = 0;
  for (const { orig } of train) {
    for (let cell = 0; cell < orig.valid.length; cell++) {
      if (!orig.valid[cell]) continue;
      cells++;
      for (let c = 0; c < classes; c++) prior[c]! += orig.targets[cell * classes + c]!;
    }
  }
  for (let c = 0; c < classes; c++) prior[c]! /= Math.max(1, cells);
  const largest = Math.max(...prior);
  const rawWeights = Array.from(prior, (p) => Math.min(config.classWeightCap, (Math.max(p, 1e-7) / largest) ** -config.classWeightPower));
  // Normalised so that the average target is weighted 1: the loss keeps its scale.
  const norm = rawWeights.reduce((s, w, c) => s + w * prior[c]!, 0);
  return { prior, classWeights: Float32Array.from(rawWeights, (w) => w / norm) };
}
