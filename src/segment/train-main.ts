// Trains the clothing segmentation decoder and writes models/groknet-segment:
//   node --import tsx src/segment/train-main.ts --datasets ../shared/datasets [--out DIR]
//     [--epochs N] [--merge none|shoes|groups] [--config JSON]
// Then `node --import tsx bench/segment.ts` scores the artifact end to end (EVAL.md).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GARMENT_GROUPS, SHOE_MERGE } from './merges.ts';
import { DEFAULT_SEGMENT_CONFIG, trainSegmentation, type SegmentTrainConfig } from './train.ts';

const DEFAULT_OUT = fileURLToPath(new URL('../../models/groknet-segment', import.meta.url));

const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: '../shared/datasets' },
    out: { type: 'string', default: DEFAULT_OUT },
    epochs: { type: 'string' },
    merge: { type: 'string', default: 'none' },
    config: { type: 'string' },
  },
});

const merges: Record<string, Readonly<Record<string, string>>> = { none: {}, shoes: SHOE_MERGE, groups: GARMENT_GROUPS };
const merge = merges[values.merge];
if (!merge) throw new Error(`--merge must be one of ${Object.keys(merges).join(', ')}`);
const overrides = values.config ? (JSON.parse(values.config) as Partial<SegmentTrainConfig>) : {};
// A misspelt setting would otherwise be ignored silently and the run would train the defaults.
const known = new Set([...Object.keys(DEFAULT_SEGMENT_CONFIG), 'upperTrunkFrom', 'maxPhotos']);
const unknown = Object.keys(overrides).filter((k) => !known.has(k));
if (unknown.length > 0) throw new Error(`--config: unknown setting(s) ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
const config: SegmentTrainConfig = {
  ...DEFAULT_SEGMENT_CONFIG,
  merge,
  ...overrides,
  ...(values.epochs ? { epochs: Number(values.epochs) } : {}),
  datasets: path.resolve(values.datasets),
  out: path.resolve(values.out),
  log: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
};
const result = await trainSegmentation(config);
const v = result.validation;
process.stdout.write(
  `${JSON.stringify({ out: config.out, seconds: Math.round(result.seconds), valImages: v.images, pixelAccuracy: v.pixelAccuracy, meanIoU: v.meanIoU, merged: v.merged })}\n`,
);
