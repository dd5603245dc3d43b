// `groknet segment FILE --out MASK.png [--json] [--model DIR] [--min-share 0.005] [--provider P]`
// Segments the clothing in one photo: writes an 8-bit PNG the size of the photo whose
// pixel values index the model's label list (0 = background; the Clothing Co-Parsing
// list for the shipped model), and prints each garment (labels covering at least
// --min-share of the photo, background, skin and hair left out) with its share of the
// photo, dominant colour and bounding box. The output path is checked before any work.
import path from 'node:path';
import { GroknetError, toGroknetError } from '../../errors.ts';
import { decodeImage, readLimitedFile, type DecodedImage } from '../../image/decode.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../image/limits.ts';
import type { ExecutionProvider } from '../../model/backend/onnxruntime.ts';
import { DEFAULT_MIN_GARMENT_SHARE, type GarmentCandidate } from '../../pipelines/garments.ts';
import type { TtaMode } from '../../segment/tta.ts';
import { Segmenter } from '../../pipelines/segment.ts';
import { checkOutputFile, writeMaskPng } from '../../segment/mask-png.ts';
import { numberOption, parse } from '../args.ts';

const USAGE = 'usage: groknet segment FILE --out MASK.png [--json] [--model DIR] [--min-share 0.005] [--tta flip|none] [--provider cpu|cuda]\n';

export async function segmentCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
    model: { type: 'string' },
    'min-share': { type: 'string' },
    provider: { type: 'string' },
    tta: { type: 'string' },
  });
  if (positionals.length !== 1 || !values.out) {
    process.stderr.write(USAGE);
    return 2;
  }
  const [file] = positionals as [string];
  const minShare = numberOption(values['min-share'], 'min-share', 0, 1, DEFAULT_MIN_GARMENT_SHARE);
  const out = await checkOutputFile(values.out);

  // The photo is read and decoded before the model loads: a bad file fails at once.
  let image: DecodedImage;
  try {
    image = await decodeImage(await readLimitedFile(file, DEFAULT_IMAGE_LIMITS.maxInputBytes));
  } catch (error) {
    return reportPhotoError(file, toGroknetError(error), values.json);
  }
  const segmenter = await Segmenter.open(values.model ? path.resolve(values.model) : undefined, {
    provider: (values.provider ?? 'cpu') as ExecutionProvider,
    // Validated by Segmenter.open (invalid_argument): flip (the default) costs a second image per run.
    ...(values.tta ? { tta: values.tta as TtaMode } : {}),
  });
  try {
    const [segmented] = await segmenter.segmentDecoded([image]);
    const { segmentation } = segmented!;
    const garments = segmenter.garments(segmented!, { minShare });
    await writeMaskPng(out, segmentation.mask, segmentation.width, segmentation.height);
    const line = segmentJsonLine(file, out, segmentation.width, segmentation.height, garments);
    process.stdout.write(values.json ? `${JSON.stringify(line)}\n` : textLines(file, out, segmentation.width, segmentation.height, garments));
    return 0;
  } finally {
    await segmenter.close();
  }
}

/** A photo that cannot be read: the same error shape as `groknet analyze`, exit 1. */
export function reportPhotoError(file: string, error: GroknetError, json: boolean): number {
  process.stdout.write(json ? `${JSON.stringify({ file, error: { code: error.code, message: error.message } })}\n` : `${file}\n  error ${error.code}: ${error.message}\n`);
  return 1;
}

export function segmentJsonLine(file: string, mask: string, width: number, height: number, garments: readonly GarmentCandidate[]): Record<string, unknown> {
  return {
    file,
    mask,
    width,
    height,
    garments: garments.map((g) => ({
      label: g.label,
      labelIndex: g.labelIndex,
      areaShare: Math.round(g.areaShare * 1e4) / 1e4,
      colour: g.colour ?? null,
      colourShare: Math.round(g.colourShare * 1e4) / 1e4,
      box: g.box,
    })),
  };
}

function textLines(file: string, mask: string, width: number, height: number, garments: readonly GarmentCandidate[]): string {
  const lines = [`${file}  ${width}x${height}  mask: ${mask}  (${garments.length} garment${garments.length === 1 ? '' : 's'})`];
  for (const g of garments) {
    const [x, y, w, h] = g.box;
    lines.push(`  ${g.label.padEnd(12)} ${`${(g.areaShare * 100).toFixed(1)}%`.padStart(6)}  ${(g.colour ?? '-').padEnd(11)}  ${x},${y} ${w}x${h}`);
  }
  return `${lines.join('\n')}\n`;
}
