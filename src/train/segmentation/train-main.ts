// Trains the clothing segmentation decoder and writes models/groknet-segment:
//   node --import tsx src/train/segmentation/train-main.ts --datasets ../shared/datasets [--out DIR]
//     [--epochs N] [--merge none|shoes|groups] [--config JSON]
// --config takes the settings of config.ts as JSON (checked there: an unknown or misspelt
// setting is an error, not a run of the defaults). Then `node --import tsx bench/segment.ts`
// scores the artifact end to end (EVAL.md).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GroknetError } from '../../errors.ts';
import type { StartProgress } from '../../util/progress.ts';
import { parseSegmentTrainConfig } from './config.ts';
import { GARMENT_GROUPS, SHOE_MERGE } from './merges.ts';
import { trainSegmentation } from './train.ts';

const DEFAULT_OUT = fileURLToPath(new URL('../../../models/groknet-segment', import.meta.url));

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
let overrides: unknown = {};
try {
  overrides = values.config ? JSON.parse(values.config) : {};
} catch (error) {
  throw new GroknetError('invalid_config', `--config is not valid JSON (${(error as Error).message})`);
}
if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw new GroknetError('invalid_config', '--config must be a JSON object of settings');
const config = parseSegmentTrainConfig(
  {
    merge,
    ...overrides,
    ...(values.epochs ? { epochs: Number(values.epochs) } : {}),
    datasets: path.resolve(values.datasets),
    out: path.resolve(values.out),
  },
  '--config',
);
const log = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
// The feature pass as a log line per tenth of it (the CLI's progress bar is above src/train).
const startProgress: StartProgress = (label, total) => {
  let tenths = 0;
  return {
    tick: (done) => {
      if (Math.floor((done * 10) / total) > tenths) log(`${label}: ${done}/${total}`);
      tenths = Math.max(tenths, Math.floor((done * 10) / total));
    },
    finish: () => undefined,
  };
};
const result = await trainSegmentation(config, { log, startProgress });
const v = result.validation;
process.stdout.write(
  `${JSON.stringify({ out: config.out, seconds: Math.round(result.seconds), valImages: v.images, pixelAccuracy: v.pixelAccuracy, meanIoU: v.meanIoU, merged: v.merged })}\n`,
);
