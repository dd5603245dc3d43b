// Adapter for fashion-products (Myntra catalogue shots, 60x80 px on white): labels.csv with
// file,id,gender,masterCategory,subCategory,articleType,baseColour,season,usage,title.
// The catalogue's raw values are merged here, the one place that says how:
// - fashion_article: articleType, near-synonyms merged (FASHION_ARTICLE_MERGES) and types with
//   fewer than FASHION_ARTICLE_MIN_IMAGES images after merging left unlabelled for this head.
// - colour: baseColour named with the pixel palette's names (src/image/colour-names.ts), so the
//   learned colour and the measured one share one filter; "Multi" and "NA" are unlabelled.
// - gender: Men, Women, Unisex, Kids (Boys + Girls). usage: Casual, Formal, Sports, Ethnic.
// The split is a stable hash of the title: the catalogue lists some products twice (same photo,
// consecutive ids), and such listings share their title, so they land on one side together.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { COLOUR_NAMES } from '../../image/colour-names.ts';
import { hashSplit } from './split.ts';
import type { LabelledDataset, Sample } from './types.ts';

export const FASHION_ARTICLE_MIN_IMAGES = 25;

/** articleType values folded into a larger one that names the same kind of product. */
export const FASHION_ARTICLE_MERGES: Readonly<Record<string, string>> = {
  Kurtis: 'Kurtas',
  Tunics: 'Tops',
  'Lounge Shorts': 'Shorts',
  'Sports Sandals': 'Sandals',
  Clutches: 'Handbags',
  Mufflers: 'Scarves',
  Stoles: 'Scarves',
  'Perfume and Body Mist': 'Fragrance',
  Deodorant: 'Fragrance',
  'Fragrance Gift Set': 'Fragrance',
  Rucksacks: 'Backpacks',
  'Lounge Pants': 'Track Pants',
  Tights: 'Stockings',
};

/** baseColour -> the palette's colour name (lower case); absent values are unlabelled. */
export const BASE_COLOUR_TO_PALETTE: Readonly<Record<string, string>> = {
  Black: 'black', Blue: 'blue', White: 'white', Grey: 'grey', Brown: 'brown', Red: 'red', Green: 'green',
  'Navy Blue': 'navy', Purple: 'purple', Pink: 'pink', Beige: 'beige', Maroon: 'maroon', Yellow: 'yellow',
  Olive: 'olive', Silver: 'silver', Steel: 'silver', Orange: 'orange', Gold: 'yellow', Cream: 'beige',
  Tan: 'brown', Charcoal: 'grey', Khaki: 'beige', 'Off White': 'white', Lavender: 'purple', Magenta: 'pink',
  Copper: 'brown', Peach: 'pink', Teal: 'teal', Mustard: 'yellow', 'Turquoise Blue': 'teal', Rust: 'orange',
  'Coffee Brown': 'brown', Bronze: 'brown', 'Grey Melange': 'grey', Burgundy: 'maroon', Taupe: 'grey',
  'Sea Green': 'teal', Metallic: 'silver', Mauve: 'purple', Nude: 'beige', 'Fluorescent Green': 'light green',
  Skin: 'beige', 'Lime Green': 'light green',
};

const GENDERS: Readonly<Record<string, string>> = { Men: 'Men', Women: 'Women', Unisex: 'Unisex', Boys: 'Kids', Girls: 'Kids' };
const USAGES = ['Casual', 'Formal', 'Sports', 'Ethnic'] as const;
const COLUMNS = ['file', 'gender', 'articleType', 'baseColour', 'usage', 'title'] as const;

export interface FashionProductRow {
  file: string;
  id: string;
  gender: string;
  articleType: string;
  baseColour: string;
  usage: string;
  title: string;
}

/** The rows of labels.csv (no quoting: the file has none, and a quote is refused rather than misread). */
export async function readFashionProducts(root: string): Promise<FashionProductRow[]> {
  const text = await readFile(path.join(root, 'labels.csv'), 'utf8').catch(() => {
    throw new GroknetError('file_not_found', `no labels.csv in ${root}`);
  });
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  const col = Object.fromEntries(COLUMNS.map((c) => [c, header.indexOf(c)])) as Record<(typeof COLUMNS)[number], number>;
  const missing = COLUMNS.filter((c) => col[c] < 0);
  if (missing.length > 0) throw new GroknetError('invalid_labels', `labels.csv: missing column(s) ${missing.join(', ')}`);
  const idCol = header.indexOf('id');
  return lines.map((line, i) => {
    if (line.includes('"')) throw new GroknetError('invalid_labels', `labels.csv line ${i + 2}: quoted fields are not supported`);
    const cols = line.split(',').map((c) => c.trim());
    if (cols.length !== header.length) throw new GroknetError('invalid_labels', `labels.csv line ${i + 2}: ${cols.length} columns, the header has ${header.length}`);
    const file = cols[col.file]!;
    if (!file) throw new GroknetError('invalid_labels', `labels.csv line ${i + 2}: no file`);
    return { file, id: idCol >= 0 ? cols[idCol]! : file, gender: cols[col.gender]!, articleType: cols[col.articleType]!, baseColour: cols[col.baseColour]!, usage: cols[col.usage]!, title: cols[col.title]! };
  });
}

/** The article label a row trains (merged), before the minimum-count cut. */
export function mergedArticle(articleType: string): string {
  return FASHION_ARTICLE_MERGES[articleType] ?? articleType;
}

export async function loadFashionProducts(root: string, valFraction = 0.15): Promise<LabelledDataset> {
  const rows = await readFashionProducts(root);
  const counts = new Map<string, number>();
  for (const r of rows) if (r.articleType && r.articleType !== 'NA') counts.set(mergedArticle(r.articleType), (counts.get(mergedArticle(r.articleType)) ?? 0) + 1);
  const articles = [...counts].filter(([, n]) => n >= FASHION_ARTICLE_MIN_IMAGES).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([label]) => label);
  const colours = COLOUR_NAMES.filter((c) => Object.values(BASE_COLOUR_TO_PALETTE).includes(c));
  const genders = ['Men', 'Women', 'Unisex', 'Kids'];
  const usages: string[] = [...USAGES];
  const samples: Sample[] = rows.map((r) => {
    const full = path.resolve(root, r.file);
    if (!full.startsWith(path.resolve(root) + path.sep)) throw new GroknetError('path_outside_root', `labels.csv: '${r.file}'`);
    const single: Record<string, number> = {};
    const label = (head: string, names: readonly string[], value: string | undefined) => {
      const index = value === undefined ? -1 : names.indexOf(value);
      if (index >= 0) single[head] = index;
    };
    label('fashion_article', articles, mergedArticle(r.articleType));
    label('colour', colours, BASE_COLOUR_TO_PALETTE[r.baseColour]);
    label('gender', genders, GENDERS[r.gender]);
    label('usage', usages, r.usage);
    return { path: full, dataset: 'fashion-products', single, split: hashSplit(`title:${r.title}`, valFraction) };
  });
  return { name: 'fashion-products', tasks: { fashion_article: articles, colour: colours, gender: genders, usage: usages }, samples };
}
