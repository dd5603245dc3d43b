// A tiny training set and config for tests of `groknet train` that stop and resume it: 30
// generated shapes (3 classes), the real backbone's cached features, a few seconds a run.
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { cacheDir } from '../../src/model/cache.ts';

export type ShapeKind = 'circle' | 'square' | 'stripes';

/** A 120x120 PNG of one shape on light grey; `seed` moves and sizes it. */
export async function shapeImage(kind: ShapeKind, colour: string, seed: number): Promise<Buffer> {
  const jitter = (seed * 7) % 20;
  const body =
    kind === 'circle'
      ? `<circle cx="${60 + jitter}" cy="60" r="${35 + (seed % 10)}" fill="${colour}"/>`
      : kind === 'square'
        ? `<rect x="${25 + jitter}" y="25" width="70" height="70" fill="${colour}"/>`
        : Array.from({ length: 6 }, (_, i) => `<rect x="0" y="${i * 20 + (seed % 5)}" width="120" height="8" fill="${colour}"/>`).join('');
  return sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120"><rect width="120" height="120" fill="#f4f4f4"/>${body}</svg>`)).png().toBuffer();
}

/** Writes DIR/shapes/{circle,square,stripes}/N.png (10 each) and returns DIR/shapes. */
export async function writeShapes(dir: string): Promise<string> {
  const colours = ['#d22', '#2a2', '#22d', '#da2'];
  for (const [k, kind] of (['circle', 'square', 'stripes'] as const).entries()) {
    await mkdir(path.join(dir, 'shapes', kind), { recursive: true });
    for (let i = 0; i < 10; i++) {
      const colour = colours[(kind === 'stripes' ? i + k : i) % 4]!;
      await writeFile(path.join(dir, 'shapes', kind, `${i}.png`), await shapeImage(kind, colour, i));
    }
  }
  return path.join(dir, 'shapes');
}

/** A config over writeShapes' folder: a softmax head and a contrastive embedding, dropout on (what resuming must reproduce). */
export function shapesConfig(shapes: string, epochs: number): Record<string, unknown> {
  return {
    name: 'interrupt-train',
    version: '0.0.1',
    seed: 3,
    datasets: [{ name: 'shapes', adapter: 'folder', path: shapes, head: 'shape', views: 1, valFraction: 0.2 }],
    tasks: [{ head: 'shape', loss: 'softmax', dataset: 'shapes' }, { head: 'embedding', loss: 'contrastive' }],
    model: { shared: [64], embeddingDim: 32, codeBits: 32, dropout: 0.2 },
    optimizer: { epochs, batchSize: 8, learningRate: 0.005 },
    checkpointEvery: 5,
  };
}

/** A fresh GROKNET_CACHE that links the backbones already converted in the current cache, so runs do not convert them again. */
export async function cacheWithBackbones(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'backbones'), { recursive: true });
  const home = path.join(cacheDir(), 'backbones');
  for (const name of await readdir(home).catch(() => [] as string[])) {
    if (name.endsWith('.onnx')) await symlink(path.join(home, name), path.join(dir, 'backbones', name)).catch(() => undefined);
  }
  return dir;
}

/** Writes the config as JSON and returns its path. */
export async function writeConfig(file: string, config: Record<string, unknown>): Promise<string> {
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}
