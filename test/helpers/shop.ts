// A small generated shop for search tests: products with known colours, categories, prices
// and two listings that share one photo (a duplicate).

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../../src/catalog/hash.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import type { Analyzer, HeadResult } from '../../src/model/types.ts';
import { createColourAnalyzer } from './colour-analyzer.ts';
import { renderImage, type ImageSpec } from './images.ts';

export interface ShopItem {
  id: string;
  title: string;
  description: string;
  price: number;
  category: string;
  image: ImageSpec;
}

export const SHOP: ShopItem[] = [
  { id: 'sofa-yellow', title: 'Mid-century loveseat', description: 'Yellow velvet two-seater', price: 150, category: 'sofa', image: { background: '#f5dc14' } },
  { id: 'sofa-yellow-2', title: 'Retro couch', description: 'Mustard three-seater', price: 450, category: 'sofa', image: { background: '#f5dc14', shape: 'square', foreground: '#a09000' } },
  { id: 'sofa-blue', title: 'Blue sofa', description: 'Mid-century style, navy fabric', price: 120, category: 'sofa', image: { background: '#1e46dc' } },
  { id: 'tee-red', title: 'Cotton tee', description: 'Soft red t-shirt', price: 15, category: 't-shirt', image: { background: '#dc1e1e', shape: 'square', foreground: '#c81414' } },
  { id: 'pants-green', title: 'Chino trousers', description: 'Slim fit', price: 40, category: 'pants', image: { background: '#28aa3c', gradientTo: '#1e9632' } },
  { id: 'shoes-white', title: 'Running sneakers', description: 'Light and white', price: 80, category: 'shoes', image: { background: '#f5f5f5', shape: 'circle', foreground: '#e6e6e6' } },
  { id: 'lamp-black', title: 'Desk lamp', description: 'Black metal lamp', price: 25, category: 'lamp', image: { background: '#0f0f0f', shape: 'triangle', foreground: '#303030' } },
  { id: 'mug-1', title: 'Orange mug', description: 'Ceramic', price: 9, category: 'mug', image: { background: '#f58c14', shape: 'circle', foreground: '#ffffff' } },
  { id: 'mug-1-copy', title: 'Orange mug!!', description: 'Ceramic, same photo', price: 8, category: 'mug', image: { background: '#f58c14', shape: 'circle', foreground: '#ffffff' } },
];

export interface Shop {
  catalog: CatalogStore;
  analyzer: Analyzer;
  dir: string;
  bytes: Map<string, Buffer>;
}

/** Writes the shop as images + JSONL under `dir` and ingests it. */
export async function buildShop(dir: string): Promise<Shop> {
  const bytes = new Map<string, Buffer>();
  const categoryByHash = new Map<string, string>();
  const lines: string[] = [];
  for (const item of SHOP) {
    const image = await renderImage(item.image);
    bytes.set(item.id, image);
    categoryByHash.set(sha256(image), item.category);
    await writeFile(join(dir, `${item.id}.png`), image);
    lines.push(JSON.stringify({ id: item.id, title: item.title, description: item.description, price: item.price, currency: 'EUR', image: `${item.id}.png` }));
  }
  await writeFile(join(dir, 'shop.jsonl'), lines.join('\n'));
  // The type head stands in for a product-type classifier, looked up by image content (not
  // named category: that filter is the seller's own category, a listing field).
  const analyzer = createColourAnalyzer({
    extraHeads: (b): Record<string, HeadResult> => ({
      type: { kind: 'single', top: [{ label: categoryByHash.get(sha256(b)) ?? 'other', score: 0.88 }] },
    }),
  });
  const catalog = await openCatalog(join(dir, 'data'), { embeddingDim: analyzer.embeddingDim });
  const summary = await ingest(join(dir, 'shop.jsonl'), { catalog, analyzer });
  if (summary.indexed !== SHOP.length) throw new Error(`shop ingest: ${JSON.stringify(summary)}`);
  return { catalog, analyzer, dir, bytes };
}
