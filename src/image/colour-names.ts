// Basic colour names for product pixels: a fixed palette, chosen by perceptual distance
// (CIE76 in CIELAB, sRGB D65). Used for the `colour` attribute, which is measured from
// pixels rather than learned: none of the datasets has colour labels to learn from.

export interface PaletteColour {
  name: string;
  rgb: readonly [number, number, number];
}

export const PALETTE: readonly PaletteColour[] = [
  { name: 'black', rgb: [20, 20, 20] },
  { name: 'white', rgb: [245, 245, 245] },
  { name: 'grey', rgb: [128, 128, 128] },
  { name: 'silver', rgb: [192, 192, 192] },
  { name: 'red', rgb: [200, 30, 35] },
  { name: 'maroon', rgb: [130, 25, 50] },
  { name: 'pink', rgb: [240, 140, 180] },
  { name: 'orange', rgb: [240, 130, 30] },
  { name: 'yellow', rgb: [245, 215, 40] },
  { name: 'beige', rgb: [220, 200, 160] },
  { name: 'brown', rgb: [120, 75, 40] },
  { name: 'green', rgb: [40, 150, 60] },
  { name: 'light green', rgb: [170, 205, 100] },
  { name: 'olive', rgb: [110, 110, 40] },
  { name: 'teal', rgb: [20, 130, 130] },
  { name: 'blue', rgb: [35, 75, 200] },
  { name: 'navy', rgb: [25, 35, 90] },
  { name: 'purple', rgb: [120, 50, 150] },
  // Second shades of a name: mustard and gold are yellow to a shopper, though nearer olive or
  // beige to the first yellow above (a mustard sofa was "olive"). Shares add up by name.
  { name: 'yellow', rgb: [210, 170, 45] },
  { name: 'yellow', rgb: [195, 170, 85] },
] as const;

/** Each colour name once, in the palette's order. */
export const COLOUR_NAMES: readonly string[] = [...new Set(PALETTE.map((c) => c.name))];

function srgbToLinear(v: number): number {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

export function rgbToLab(r: number, g: number, b: number): [number, number, number] {
  const R = srgbToLinear(r);
  const G = srgbToLinear(g);
  const B = srgbToLinear(b);
  const x = (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047;
  const y = 0.2126 * R + 0.7152 * G + 0.0722 * B;
  const z = (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}

const PALETTE_LAB = PALETTE.map((c) => rgbToLab(...c.rgb));

/** Index into PALETTE of the perceptually nearest colour. */
export function nearestColour(r: number, g: number, b: number): number {
  const [L, A, B] = rgbToLab(r, g, b);
  let best = 0;
  let bestDistance = Infinity;
  PALETTE_LAB.forEach(([l, a, bb], i) => {
    const d = (L - l) ** 2 + (A - a) ** 2 + (B - bb) ** 2;
    if (d < bestDistance) {
      bestDistance = d;
      best = i;
    }
  });
  return best;
}

// Palette index for every colour quantised to 5 bits per channel, built on first use: naming
// a pixel becomes one table read instead of a CIELAB conversion and 18 distances.
let lut: Uint8Array | undefined;
function paletteLut(): Uint8Array {
  if (!lut) {
    lut = new Uint8Array(32 * 32 * 32);
    for (let r = 0; r < 32; r++) for (let g = 0; g < 32; g++) for (let b = 0; b < 32; b++) lut[(r << 10) | (g << 5) | b] = nearestColour(r * 8 + 4, g * 8 + 4, b * 8 + 4);
  }
  return lut;
}

/** Fast palette index of a pixel (quantised, for counting many pixels). */
export function paletteIndex(r: number, g: number, b: number): number {
  return paletteLut()[((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)]!;
}

/** Palette index -> the first index with the same name: shades of one name count as one colour. */
const NAME_OF_INDEX = PALETTE.map((c) => PALETTE.findIndex((other) => other.name === c.name));

export function colourName(r: number, g: number, b: number): string {
  return PALETTE[nearestColour(r, g, b)]!.name;
}

export interface ColourShare {
  name: string;
  share: number;
}

/**
 * Dominant colours of RGB pixels, with the background left out: the colour of the image
 * border (where product photos show their backdrop) is the background when it covers most
 * of the border; pixels near the centre count more than those near the edges.
 */
export function dominantColours(rgb: Uint8Array | Buffer, width: number, height: number, mask?: (x: number, y: number) => boolean): ColourShare[] {
  const counts = new Float64Array(PALETTE.length);
  let background = -1;
  if (!mask) {
    const border = new Float64Array(PALETTE.length);
    let total = 0;
    const visit = (x: number, y: number) => {
      const i = (y * width + x) * 3;
      border[NAME_OF_INDEX[paletteIndex(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!)]!]! += 1;
      total++;
    };
    for (let x = 0; x < width; x += 2) {
      visit(x, 0);
      visit(x, height - 1);
    }
    for (let y = 0; y < height; y += 2) {
      visit(0, y);
      visit(width - 1, y);
    }
    const top = border.indexOf(Math.max(...border));
    if (border[top]! / Math.max(total, 1) > 0.6) background = top;
  }
  // About 5,000 samples: plenty for shares in percent, cheap next to the model.
  const step = Math.max(1, Math.floor(Math.sqrt((width * height) / 5000)));
  for (let y = 0; y < height; y += step) {
    for (let x = 0; x < width; x += step) {
      if (mask && !mask(x, y)) continue;
      const i = (y * width + x) * 3;
      const c = NAME_OF_INDEX[paletteIndex(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!)]!;
      if (c === background) continue;
      const dx = (x + 0.5) / width - 0.5;
      const dy = (y + 0.5) / height - 0.5;
      counts[c]! += mask ? 1 : 1 - Math.min(1, Math.hypot(dx, dy) * 1.2);
    }
  }
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum === 0) return background >= 0 ? [{ name: PALETTE[background]!.name, share: 1 }] : [];
  return Array.from(counts, (c, i) => ({ name: PALETTE[i]!.name, share: c / sum }))
    .filter((c) => c.share > 0)
    .sort((a, b) => b.share - a.share);
}
