// Accuracy across photo styles and verticals (issue #25). Each model given is run over the
// held-out photos of every dataset (the trainer's own splits, rebuilt by its adapters), as
// they are and restyled the way listings differ from training photos:
//   as is    the held-out photo
//   small    shrunk to 48 px on its long side and saved as JPEG quality 70 (a thumbnail)
//   blur     Gaussian blur, sigma 2.5 (out of focus)
//   framed   the photo at half size in the middle of a white canvas (a product shot with margin)
// and across datasets: the clothing head on catalogue shots (fashion-products, articleType
// mapped where a clothing label names the same thing) and fashion_article on the clothing
// photos (the reverse mapping). Per head: accuracy over every photo, the share the head
// answers (not abstained, after the vertical gate where the model has one) and the accuracy
// where it answers. Heads of another vertical should answer nothing: the share of photos
// where they answer anyway is reported per set ("confident off-vertical answers").
// Photo -> catalog R@1 per style: each held-out grocery photo, restyled, against the catalog
// images (as is) of every grocery product, as the trainer's EVAL.md measures it in style.
// Colour on the fashion-products held-out shots: the pixel palette, the learned head, a blend
// and the shipped rule (the learned head where it is sure, else the palette).
// Run: node --import tsx bench/cross-style.ts [--models models/groknet-base,OTHER] [--per 400] [--datasets ../shared/datasets] [--print] [--section ID --title TEXT]
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { sha256 } from '../src/catalog/hash.ts';
import { loadForModel } from '../src/image/preprocess.ts';
import type { HeadResult } from '../src/model/types.ts';
import { ModelAnalyzer } from '../src/pipelines/analyze.ts';
import { chooseColour, measureColour } from '../src/pipelines/measure-colour.ts';
import { gateByVertical } from '../src/pipelines/vertical-gate.ts';
import { loadClothing } from '../src/train/datasets/clothing.ts';
import { loadFashionProducts } from '../src/train/datasets/fashion-products.ts';
import { loadFurniture } from '../src/train/datasets/furniture.ts';
import { loadGrocery } from '../src/train/datasets/grocery.ts';
import type { LabelledDataset } from '../src/train/datasets/types.ts';
import { GroknetError } from '../src/errors.ts';
import { REPO } from '../scripts/reliability/lib/common.ts';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'models/groknet-base' },
    per: { type: 'string', default: '400' },
    datasets: { type: 'string', default: '../shared/datasets' },
    print: { type: 'boolean', default: false },
    // Which BENCHMARKS.md section to write (one per comparison: cross-style, cross-style-shrink, ...).
    section: { type: 'string', default: 'cross-style' },
    title: { type: 'string', default: 'Accuracy across photo styles' },
  },
});
const PER = Number(values.per);
const root = path.resolve(REPO, values.datasets!);
for (const name of ['clothing', 'grocery', 'fashion-products', 'furniture']) {
  if (!existsSync(path.join(root, name))) {
    console.error(`no ${name} dataset under ${root} (this bench needs it; --datasets DIR)`);
    process.exit(2);
  }
}

// Where a clothing label and a catalogue articleType name the same kind of garment.
const CLOTHING_TO_ARTICLE: Record<string, string[]> = {
  'T-Shirt': ['Tshirts'], Polo: ['Tshirts'], Shirt: ['Shirts'], Top: ['Tops'], Pants: ['Trousers', 'Jeans', 'Track Pants'],
  Shorts: ['Shorts'], Dress: ['Dresses'], Skirt: ['Skirts'], Hat: ['Caps'], Outwear: ['Jackets'], Hoodie: ['Sweatshirts'],
  Shoes: ['Casual Shoes', 'Sports Shoes', 'Formal Shoes', 'Heels', 'Flats', 'Sandals', 'Flip Flops'],
};
const ARTICLE_TO_CLOTHING = new Map<string, string[]>();
for (const [clothing, articles] of Object.entries(CLOTHING_TO_ARTICLE)) for (const a of articles) ARTICLE_TO_CLOTHING.set(a, [...(ARTICLE_TO_CLOTHING.get(a) ?? []), clothing]);

const KNOWN_VERTICALS: Record<string, string> = { clothing: 'fashion', garment_tags: 'fashion', grocery_fine: 'grocery', grocery_coarse: 'grocery' };

interface Photo {
  file: string;
  /** The product whose catalog image is the right nearest neighbour (grocery). */
  productId?: string;
  /** Head -> the labels counted right (absent: the head is not scored on this photo). */
  truth: Record<string, string[]>;
}
interface PhotoSet {
  name: string;
  vertical: string;
  photos: Photo[];
}

const order = <T extends { file: string }>(items: T[]): T[] => items.sort((a, b) => sha256(a.file).localeCompare(sha256(b.file)));
const labelsOf = (data: LabelledDataset, sample: LabelledDataset['samples'][number]): Record<string, string[]> =>
  Object.fromEntries(Object.entries(sample.single).map(([head, index]) => [head, [data.tasks[head]![index]!]]));
const heldOut = (data: LabelledDataset) => data.samples.filter((s) => s.split === 'val');

const clothing = await loadClothing(path.join(root, 'clothing'));
const fashion = await loadFashionProducts(path.join(root, 'fashion-products'));
const grocery = await loadGrocery(path.join(root, 'grocery'));
const furniture = await loadFurniture(path.join(root, 'furniture'));
const sets: PhotoSet[] = [
  {
    name: 'clothing (phone photos)',
    vertical: 'fashion',
    photos: order(heldOut(clothing).map((s) => {
      const truth = labelsOf(clothing, s);
      const articles = CLOTHING_TO_ARTICLE[truth.clothing![0]!];
      return { file: s.path, truth: { ...truth, ...(articles ? { fashion_article: articles } : {}) } };
    })).slice(0, PER),
  },
  {
    name: 'fashion-products (catalogue, 60x80)',
    vertical: 'fashion',
    photos: order(heldOut(fashion).map((s) => {
      const truth = labelsOf(fashion, s);
      const mapped = truth.fashion_article ? ARTICLE_TO_CLOTHING.get(truth.fashion_article[0]!) : undefined;
      return { file: s.path, truth: { ...truth, ...(mapped ? { clothing: mapped } : {}) } };
    })).slice(0, PER),
  },
  { name: 'grocery (in-store photos)', vertical: 'grocery', photos: order(heldOut(grocery).map((s) => ({ file: s.path, truth: labelsOf(grocery, s), ...(s.productId && !s.catalogImage ? { productId: s.productId } : {}) }))).slice(0, PER) },
  { name: 'furniture (web photos)', vertical: 'home', photos: order(heldOut(furniture).map((s) => ({ file: s.path, truth: labelsOf(furniture, s) }))).slice(0, PER) },
];
for (const set of sets) for (const p of set.photos) p.truth.vertical = [set.vertical];
const catalogImages = grocery.samples.filter((s) => s.catalogImage && s.productId);

const STYLES: Record<string, (bytes: Buffer) => Promise<Buffer>> = {
  'as is': async (bytes) => bytes,
  small: (bytes) => sharp(bytes).resize(48, 48, { fit: 'inside' }).jpeg({ quality: 70 }).toBuffer(),
  blur: (bytes) => sharp(bytes).blur(2.5).jpeg({ quality: 90 }).toBuffer(),
  framed: async (bytes) => {
    const meta = await sharp(bytes).metadata();
    const w = meta.width ?? 100;
    const h = meta.height ?? 100;
    const half = await sharp(bytes).resize(Math.max(1, Math.round(w / 2)), Math.max(1, Math.round(h / 2))).toBuffer();
    return sharp({ create: { width: w, height: h, channels: 3, background: '#ffffff' } }).composite([{ input: half, gravity: 'centre' }]).jpeg({ quality: 90 }).toBuffer();
  },
};

interface Tally {
  scored: number;
  right: number;
  answered: number;
  answeredRight: number;
}
const tally = (): Tally => ({ scored: 0, right: 0, answered: 0, answeredRight: 0 });
const pct = (n: number, d: number): string => (d === 0 ? '-' : (n / d).toFixed(3));

interface ModelReport {
  version: string;
  /** set -> style -> head -> tally */
  heads: Map<string, Map<string, Map<string, Tally>>>;
  /** set -> style -> [photos, photos with any confident answer from another vertical's heads] */
  offVertical: Map<string, Map<string, { photos: number; raw: number; gated: number }>>;
  colour?: Record<string, { right: number; scored: number }>;
  /** style -> photo -> catalog retrieval: queries, right at rank 1. */
  retrieval: Map<string, { queries: number; right: number }>;
  /** The vertical head's top score and whether it was right, on every photo of every set and style. */
  vertical: Array<{ score: number; right: boolean }>;
  seconds: number;
}

const modelDirs = values.models!.split(',').map((m) => path.resolve(REPO, m));
const reports: ModelReport[] = [];
for (const dir of modelDirs) {
  const started = Date.now();
  const analyzer = await ModelAnalyzer.open(dir, { rawHeads: true, batchSize: 16 });
  const manifest = analyzer.model.manifest;
  // Models before 0.5.0 name no head's vertical: the shipped heads' own, so their off-vertical answers count too.
  const verticalOf = new Map(manifest.heads.map((h) => [h.name, h.vertical ?? KNOWN_VERTICALS[h.name]]));
  const report: ModelReport = { version: analyzer.modelVersion, heads: new Map(), offVertical: new Map(), retrieval: new Map(), vertical: [], seconds: 0 };
  // The grocery catalog images, as is: the gallery every restyled photo is searched against.
  const galleryAnalyses = await analyzer.analyzeBuffers(await Promise.all(catalogImages.map((c) => readFile(c.path))));
  const gallery = galleryAnalyses.flatMap((a, i) => (a instanceof GroknetError ? [] : [{ productId: catalogImages[i]!.productId!, embedding: a.embedding }]));
  const nearestProduct = (embedding: Float32Array): string | undefined => {
    let best = -Infinity;
    let id: string | undefined;
    for (const g of gallery) {
      let dot = 0;
      let norm = 0;
      for (let k = 0; k < embedding.length; k++) {
        dot += embedding[k]! * g.embedding[k]!;
        norm += g.embedding[k]! * g.embedding[k]!;
      }
      // Cosine up to the query's own norm, which ranks nothing differently.
      const cosine = dot / Math.sqrt(norm || 1);
      if (cosine > best) [best, id] = [cosine, g.productId];
    }
    return id;
  };
  const colourTallies: Record<string, { right: number; scored: number }> = {};
  for (const set of sets) {
    const bySet = new Map<string, Map<string, Tally>>();
    const offBySet = new Map<string, { photos: number; raw: number; gated: number }>();
    report.heads.set(set.name, bySet);
    report.offVertical.set(set.name, offBySet);
    for (const [style, restyle] of Object.entries(STYLES)) {
      const byHead = new Map<string, Tally>();
      bySet.set(style, byHead);
      const off = { photos: 0, raw: 0, gated: 0 };
      offBySet.set(style, off);
      for (let i = 0; i < set.photos.length; i += 32) {
        const batch = set.photos.slice(i, i + 32);
        const bytes = await Promise.all(batch.map(async (p) => restyle(await readFile(p.file))));
        const analyses = await analyzer.analyzeBuffers(bytes);
        for (const [j, analysis] of analyses.entries()) {
          if (analysis instanceof GroknetError) continue;
          const photo = batch[j]!;
          const gated = gateByVertical(manifest.heads, analysis.heads);
          if (photo.productId) {
            const r = report.retrieval.get(style) ?? { queries: 0, right: 0 };
            report.retrieval.set(style, r);
            r.queries++;
            if (nearestProduct(analysis.embedding) === photo.productId) r.right++;
          }
          for (const [head, truth] of Object.entries(photo.truth)) {
            const raw = analysis.heads[head];
            const after = gated[head];
            if (!raw || raw.kind !== 'single' || !after || after.kind !== 'single') continue;
            const t = byHead.get(head) ?? tally();
            byHead.set(head, t);
            const right = truth.includes(raw.top[0]?.label ?? '');
            t.scored++;
            if (right) t.right++;
            if (!after.abstain) {
              t.answered++;
              if (right) t.answeredRight++;
            }
          }
          const v = analysis.heads.vertical;
          if (v?.kind === 'single' && v.top[0]) report.vertical.push({ score: v.top[0].score, right: v.top[0].label === set.vertical });
          // Another vertical's heads answering at all on this photo is a confident wrong answer.
          const answers = (heads: Record<string, HeadResult>) =>
            Object.entries(heads).some(([head, r]) => {
              const v = verticalOf.get(head);
              if (!v || v === set.vertical) return false;
              return r.kind === 'single' ? !r.abstain : r.labels.length > 0;
            });
          off.photos++;
          if (answers(analysis.heads)) off.raw++;
          if (answers(gated)) off.gated++;
          // Colour: palette, learned, blend, shipped rule (fashion-products as is only).
          if (style === 'as is' && photo.truth.colour && analysis.heads.colour?.kind === 'single') {
            const input = await loadForModel(bytes[j]!, manifest.input);
            const palette = measureColour(input.tensor, manifest.input);
            const learned = gated.colour!;
            const truth = photo.truth.colour;
            const score = (name: string, label: string | undefined) => {
              const c = (colourTallies[name] ??= { right: 0, scored: 0 });
              c.scored++;
              if (label !== undefined && truth.includes(label)) c.right++;
            };
            const top = (r: HeadResult) => (r.kind === 'single' ? r.top[0]?.label : undefined);
            score('palette (pixels)', top(palette));
            score('learned head', top(learned));
            const blended = new Map<string, number>();
            if (learned.kind === 'single' && palette.kind === 'single') {
              for (const { label, score: s } of learned.top) blended.set(label, (blended.get(label) ?? 0) + 0.5 * s);
              for (const { label, score: s } of palette.top) blended.set(label, (blended.get(label) ?? 0) + 0.5 * s);
            }
            score('blend (mean of the two scores)', [...blended].sort((a, b) => b[1] - a[1])[0]?.[0]);
            score('shipped (chooseColour: the learned head on fashion photos, the palette off them)', top(chooseColour(learned, () => palette)));
          }
        }
      }
      if (values.print) process.stderr.write(`${report.version} ${set.name} ${style}: ${[...byHead].map(([h, t]) => `${h} ${pct(t.right, t.scored)}`).join(', ')}\n`);
    }
  }
  if (Object.keys(colourTallies).length > 0) report.colour = colourTallies;
  report.seconds = (Date.now() - started) / 1000;
  reports.push(report);
  await analyzer.close();
}

// One table per set: rows head x style, a column group per model.
const lines: string[] = [];
const models = reports.map((r) => r.version).join(' against ');
lines.push(
  `## ${values.title}`,
  '',
  `Command: \`node --import tsx bench/cross-style.ts --models ${values.models} --per ${PER}${values.section === 'cross-style' ? '' : ` --section ${values.section}`}\`. Machine: ${machine()}. Models: ${models} (${reports.map((r) => `${r.version} ${Math.round(r.seconds)} s`).join(', ')}).`,
  `Photos: up to ${PER} held-out photos per dataset (the trainer's own splits, rebuilt by its adapters; fixed hash order), each as is and restyled: small (48 px long side, JPEG q70), blur (sigma 2.5), framed (half size on a white canvas). Cells: accuracy over every photo / share answered (not abstained, after the vertical gate) / accuracy where answered. Cross-dataset rows map labels that name the same thing (clothing Pants = Trousers, Jeans or Track Pants, ...; bench/cross-style.ts).`,
  '',
);
for (const set of sets) {
  lines.push(`### ${set.name}: ${set.photos.length} photos`, '', `| head | style | ${reports.map((r) => r.version).join(' | ')} |`, `|---|---|${reports.map(() => '---|').join('')}`);
  const heads = [...new Set(reports.flatMap((r) => [...(r.heads.get(set.name)?.get('as is')?.keys() ?? [])]))];
  for (const head of heads) {
    for (const style of Object.keys(STYLES)) {
      const cells = reports.map((r) => {
        const t = r.heads.get(set.name)?.get(style)?.get(head);
        return t ? `${pct(t.right, t.scored)} / ${pct(t.answered, t.scored)} / ${pct(t.answeredRight, t.answered)}` : '-';
      });
      lines.push(`| ${head} | ${style} | ${cells.join(' | ')} |`);
    }
  }
  const offCells = Object.keys(STYLES).map((style) => `${style}: ${reports.map((r) => {
    const o = r.offVertical.get(set.name)?.get(style);
    return o ? `${pct(o.gated, o.photos)}${o.raw !== o.gated ? ` (ungated ${pct(o.raw, o.photos)})` : ''}` : '-';
  }).join(' vs ')}`);
  lines.push('', `Photos where a head of another vertical answered (e.g. garment tags on fruit): ${offCells.join('; ')}.`, '');
}
if (reports.some((r) => r.retrieval.size > 0)) {
  lines.push(`### grocery photo -> catalog R@1 (the ${catalogImages.length} products' catalog images as is; cosine over the embedding)`, '', `| style | ${reports.map((r) => r.version).join(' | ')} |`, `|---|${reports.map(() => '---|').join('')}`);
  for (const style of Object.keys(STYLES)) {
    lines.push(`| ${style} | ${reports.map((r) => {
      const t = r.retrieval.get(style);
      return t ? `${pct(t.right, t.queries)} (${t.queries})` : '-';
    }).join(' | ')} |`);
  }
  lines.push('');
}
for (const r of reports) {
  if (r.vertical.length === 0) continue;
  lines.push(`### the vertical head (${r.version}): accuracy against coverage over every set and style (${r.vertical.length} photos)`, '', '| abstain below | answered | accuracy where answered |', '|---|---|---|');
  for (const t of [0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99]) {
    const answered = r.vertical.filter((v) => v.score >= t);
    lines.push(`| ${t} | ${pct(answered.length, r.vertical.length)} | ${pct(answered.filter((v) => v.right).length, answered.length)} |`);
  }
  lines.push('');
}
for (const r of reports) {
  if (!r.colour) continue;
  lines.push(`### colour on fashion-products held-out shots (${r.version}): against baseColour named by the palette`, '', '| method | accuracy | photos |', '|---|---|---|');
  for (const [method, c] of Object.entries(r.colour)) lines.push(`| ${method} | ${pct(c.right, c.scored)} | ${c.scored} |`);
  lines.push('');
}
const markdown = lines.join('\n');
if (values.print) process.stdout.write(`${markdown}\n`);
else await writeSection(values.section!, markdown);
