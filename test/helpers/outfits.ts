// Outfit photos for tests of garments stored at indexing time: each photo is told apart by
// its width, and outfitSegmenter paints each outfit's garments over its blocks (as
// test/server/shop-the-look.test.ts scripts its segmenter). The garments' colours are then
// measured on the photo's own pixels, and differ on purpose from the photo's overall
// colour: 'dress-blue' is a small blue dress on a red wall, so the whole photo reads red.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scenePhoto, type Block, type Fractions } from './scripted-detector.ts';
import { scriptedSegmenter, type ScriptedGarment, type ScriptedSegmenter } from './scripted-segmenter.ts';
import { TINY_COLOURS } from './tiny-model.ts';

export const OUTFIT_HEIGHT = 100;

export interface Outfit {
  id: string;
  title: string;
  price: number;
  /** Tells the photo apart for the segmenter. */
  width: number;
  blocks: Block[];
  /** What the segmenter finds, one garment per block it names; unnamed blocks are background. */
  garments: Array<{ label: ScriptedGarment['label']; block: number }>;
}

const RED = TINY_COLOURS.red!;
const BLUE = TINY_COLOURS.blue!;

export const OUTFITS: readonly Outfit[] = [
  { id: 'dress-red', title: 'Summer dress', price: 40, width: 120, blocks: [{ rgb: RED, at: [0.2, 0.1, 0.6, 0.8] }], garments: [{ label: 'dress', block: 0 }] },
  {
    id: 'dress-blue',
    title: 'Evening dress',
    price: 90,
    width: 130,
    blocks: [{ rgb: RED, at: [0, 0, 1, 1] }, { rgb: BLUE, at: [0.4, 0.3, 0.2, 0.4] }],
    garments: [{ label: 'dress', block: 1 }],
  },
  {
    id: 'tee-and-jeans',
    title: 'Weekend look',
    price: 35,
    width: 140,
    blocks: [{ rgb: RED, at: [0.2, 0.05, 0.6, 0.4] }, { rgb: BLUE, at: [0.25, 0.5, 0.5, 0.45] }],
    garments: [{ label: 't-shirt', block: 0 }, { label: 'jeans', block: 1 }],
  },
  { id: 'lamp', title: 'Desk lamp', price: 25, width: 150, blocks: [{ rgb: TINY_COLOURS.yellow!, at: [0.3, 0.2, 0.4, 0.6] }], garments: [] },
];

/** A photo the segmenter fails on (outfitSegmenter's `failWidths`). */
export const SCARF: Outfit = { id: 'scarf', title: 'Wool scarf', price: 20, width: 160, blocks: [{ rgb: BLUE, at: [0.1, 0.4, 0.8, 0.2] }], garments: [{ label: 'hat', block: 0 }] };

/** A mask well inside the block: its box then holds the block's colour alone. */
function inside([x, y, w, h]: Fractions): Fractions {
  return [x + w * 0.1, y + h * 0.1, w * 0.8, h * 0.8];
}

export function outfitPhoto(outfit: Outfit): Promise<Buffer> {
  return scenePhoto(outfit.width, OUTFIT_HEIGHT, outfit.blocks);
}

/** Writes each outfit's photo (`<id>.png`) and a JSONL of their listings into `dir`; returns the JSONL's path. */
export async function writeOutfits(dir: string, outfits: readonly Outfit[] = OUTFITS, name = 'outfits.jsonl'): Promise<string> {
  const lines: string[] = [];
  for (const outfit of outfits) {
    await writeFile(join(dir, `${outfit.id}.png`), await outfitPhoto(outfit));
    lines.push(JSON.stringify({ id: outfit.id, title: outfit.title, price: outfit.price, currency: 'EUR', image: `${outfit.id}.png` }));
  }
  const file = join(dir, name);
  await writeFile(file, lines.join('\n'));
  return file;
}

/** Finds each outfit's garments by its photo's width; photos of `failWidths` wide make it throw; others show none. */
export function outfitSegmenter(outfits: readonly Outfit[] = [...OUTFITS, SCARF], options: { failWidths?: readonly number[] } = {}): ScriptedSegmenter {
  const byWidth = new Map(outfits.map((o) => [o.width, o]));
  return scriptedSegmenter((image) => {
    if (options.failWidths?.includes(image.width)) throw new Error(`cannot segment a ${image.width} px photo`);
    const outfit = byWidth.get(image.width);
    return outfit ? outfit.garments.map(({ label, block }) => ({ label, at: inside(outfit.blocks[block]!.at) })) : [];
  });
}
