// A Detector whose boxes the test chooses, and generated "scenes" (coloured blocks on grey)
// to go with it: tests about what happens after detection (seen together, pseudo-labels,
// the API's products) then do not depend on what CenterNet makes of synthetic pictures.
import sharp from 'sharp';
import { COCO_CLASSES, type CocoClass } from '../../src/detect/coco-classes.ts';
import type { Detection, Detector } from '../../src/detect/detector.ts';
import type { DecodedImage } from '../../src/image/decode.ts';
import { BACKBONES } from '../../src/model/backbones/registry.ts';

/** [x, y, w, h] as fractions of the photo. */
export type Fractions = [number, number, number, number];

export interface ScriptedBox {
  at: Fractions;
  cls: CocoClass;
  score?: number;
}

export type Script = readonly ScriptedBox[] | ((image: DecodedImage) => readonly ScriptedBox[]);

/** Reports the scripted boxes, best score first, for every photo (or per photo when `script` is a function). */
export function scriptedDetector(script: Script): Detector & { calls: number } {
  const detector = {
    name: 'centernet' as const,
    input: BACKBONES['human-models/centernet'].input,
    calls: 0,
    async detect(image: Buffer | DecodedImage): Promise<Detection[]> {
      detector.calls++;
      if (Buffer.isBuffer(image)) throw new Error('the pipeline hands detectors decoded pixels');
      const boxes = typeof script === 'function' ? script(image) : script;
      return [...boxes]
        .map(({ at: [x, y, w, h], cls, score }) => ({
          box: [x * image.width, y * image.height, w * image.width, h * image.height] as Detection['box'],
          classId: COCO_CLASSES.indexOf(cls),
          class: cls,
          score: score ?? 0.9,
        }))
        .sort((a, b) => b.score - a.score);
    },
    async close(): Promise<void> {},
  };
  return detector;
}

export interface Block {
  rgb: readonly [number, number, number];
  at: Fractions;
}

/** A PNG of `blocks` on a grey background. */
export async function scenePhoto(width: number, height: number, blocks: readonly Block[]): Promise<Buffer> {
  const parts = await Promise.all(
    blocks.map(async ({ rgb, at: [x, y, w, h] }) => ({
      input: await sharp({ create: { width: Math.round(w * width), height: Math.round(h * height), channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer(),
      left: Math.round(x * width),
      top: Math.round(y * height),
    })),
  );
  return sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).composite(parts).png().toBuffer();
}

/**
 * Boxes well inside each block: the crop's margin (5% per side) then stays inside the
 * block, so the crop is the block's colour alone and matches a plain photo of it exactly.
 */
export function boxesInside(blocks: readonly Block[], cls: CocoClass = 'handbag'): ScriptedBox[] {
  return blocks.map(({ at: [x, y, w, h] }, i) => ({ at: [x + w * 0.15, y + h * 0.15, w * 0.7, h * 0.7], cls, score: 0.9 - i * 0.01 }));
}
