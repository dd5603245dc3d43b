// `--garments [--segment-model DIR]` of `groknet index` and `groknet worker`: store each
// photo's garments (label, colour) at indexing time. Off by default, since it costs a
// segmentation per photo; the shipped model is models/groknet-segment.
import path from 'node:path';
import { GroknetError } from '../errors.ts';
import { Segmenter } from '../pipelines/segment.ts';

export const GARMENT_OPTIONS = {
  garments: { type: 'boolean', default: false },
  'segment-model': { type: 'string' },
} as const;

export const GARMENT_USAGE = '[--garments [--segment-model DIR]]';

/** What --garments asked for: undefined when off, else the model directory (undefined: the shipped one). */
export interface GarmentChoice {
  modelDir: string | undefined;
}

/** Checks the options before any work; a model directory without --garments is a mistake, not a default. */
export function garmentChoice(values: { garments?: boolean; 'segment-model'?: string }): GarmentChoice | undefined {
  const dir = values['segment-model'];
  if (dir !== undefined && !values.garments) throw new GroknetError('invalid_argument', '--segment-model only applies with --garments');
  if (dir !== undefined && dir.trim() === '') throw new GroknetError('invalid_argument', '--segment-model needs a directory');
  if (!values.garments) return undefined;
  return { modelDir: dir === undefined ? undefined : path.resolve(dir) };
}

/** Opens the segmentation model --garments asked for (before any listing is read, so a bad model fails at once). */
export async function openGarmentSegmenter(choice: GarmentChoice | undefined): Promise<Segmenter | undefined> {
  return choice ? Segmenter.open(choice.modelDir) : undefined;
}
