// Generated test images: SVG strings rendered with sharp, so tests need no fixture files.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';

export type Shape = 'none' | 'circle' | 'square' | 'triangle' | 'stripes';

export interface ImageSpec {
  background: string;
  shape?: Shape;
  foreground?: string;
  /** Second background colour: a left-to-right gradient. */
  gradientTo?: string;
  size?: number;
  /** Moves the shape, to make near-duplicates. */
  offset?: number;
  format?: 'png' | 'jpeg' | 'webp';
}

export function svgFor(spec: ImageSpec): string {
  const size = spec.size ?? 64;
  const fg = spec.foreground ?? '#000000';
  const o = spec.offset ?? 0;
  const fill = spec.gradientTo ? 'url(#g)' : spec.background;
  const defs = spec.gradientTo
    ? `<defs><linearGradient id="g"><stop offset="0" stop-color="${spec.background}"/><stop offset="1" stop-color="${spec.gradientTo}"/></linearGradient></defs>`
    : '';
  const c = size / 2 + o;
  const r = size / 4;
  const shapes: Record<Shape, string> = {
    none: '',
    circle: `<circle cx="${c}" cy="${c}" r="${r}" fill="${fg}"/>`,
    square: `<rect x="${c - r}" y="${c - r}" width="${2 * r}" height="${2 * r}" fill="${fg}"/>`,
    triangle: `<polygon points="${c},${c - r} ${c + r},${c + r} ${c - r},${c + r}" fill="${fg}"/>`,
    stripes: [0, 1, 2, 3].map((i) => `<rect x="0" y="${(i * size) / 4 + o}" width="${size}" height="${size / 8}" fill="${fg}"/>`).join(''),
  };
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${defs}<rect width="${size}" height="${size}" fill="${fill}"/>${shapes[spec.shape ?? 'none']}</svg>`;
}

export async function renderImage(spec: ImageSpec): Promise<Buffer> {
  const image = sharp(Buffer.from(svgFor(spec)));
  switch (spec.format ?? 'png') {
    case 'jpeg':
      return image.jpeg({ quality: 90 }).toBuffer();
    case 'webp':
      return image.webp().toBuffer();
    default:
      return image.png().toBuffer();
  }
}

export async function writeImage(path: string, spec: ImageSpec): Promise<Buffer> {
  const bytes = await renderImage(spec);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return bytes;
}
