// A clothing segmenter whose masks the test chooses: each scripted garment paints its label
// over a rectangle (fractions of the photo), in order, on a background of 'null'. Tests of
// what happens after segmentation (garment boxes and colours, shop the look, the API and
// the page) then do not depend on what a trained decoder makes of synthetic pictures; the
// garments' colours are still measured on the photo's own pixels.
import type { DecodedImage } from '../../src/image/decode.ts';
import type { SegmentedImage } from '../../src/pipelines/segment.ts';
import type { PhotoSegmenter } from '../../src/pipelines/shop-the-look.ts';
import type { Fractions } from './scripted-detector.ts';

/** Labels in the order of the Clothing Co-Parsing list's first entries that matter here. */
export const SCRIPTED_LABELS = ['null', 'skin', 'hair', 't-shirt', 'dress', 'jeans', 'shoes', 'hat', 'bag'] as const;
export type ScriptedLabel = (typeof SCRIPTED_LABELS)[number];

export interface ScriptedGarment {
  label: ScriptedLabel;
  at: Fractions;
}

export type SegmentScript = readonly ScriptedGarment[] | ((image: DecodedImage) => readonly ScriptedGarment[]);

export interface ScriptedSegmenter extends PhotoSegmenter {
  /** Photos segmented so far. */
  calls: number;
  /** Sizes of the images handed to the segmenter (after any downscaling). */
  sizes: Array<[number, number]>;
  closed: boolean;
}

export function scriptedSegmenter(script: SegmentScript, options: { before?: () => Promise<void> } = {}): ScriptedSegmenter {
  const segmenter: ScriptedSegmenter = {
    notGarments: new Set(['null', 'skin', 'hair']),
    calls: 0,
    sizes: [],
    closed: false,
    async segmentDecoded(images: readonly DecodedImage[]): Promise<SegmentedImage[]> {
      await options.before?.();
      return images.map((image) => {
        segmenter.calls++;
        segmenter.sizes.push([image.width, image.height]);
        const { width, height } = image;
        const mask = new Uint8Array(width * height);
        for (const { label, at: [fx, fy, fw, fh] } of typeof script === 'function' ? script(image) : script) {
          const value = SCRIPTED_LABELS.indexOf(label);
          const x0 = Math.round(fx * width);
          const y0 = Math.round(fy * height);
          const x1 = Math.min(width, Math.round((fx + fw) * width));
          const y1 = Math.min(height, Math.round((fy + fh) * height));
          for (let y = y0; y < y1; y++) mask.fill(value, y * width + x0, y * width + x1);
        }
        return { segmentation: { width, height, mask, labels: SCRIPTED_LABELS }, image };
      });
    },
    async close(): Promise<void> {
      segmenter.closed = true;
    },
  };
  return segmenter;
}
