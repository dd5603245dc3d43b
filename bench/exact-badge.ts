// How often "exact" is right, per vertical (issue #24, "honest exact"): one mixed catalog, as a
// marketplace's is (the 81 grocery products' catalog images, fashion-products shots, furniture
// photos), searched by photos of each vertical. Grocery validation photos have their product
// in the catalog (right: the same fine class); fashion and furniture query photos are other
// listings' photos, never in the catalog, so an `exact` badge on them is wrong unless the
// catalog holds the same photo under another id (fashion-products lists some products twice:
// counted right when the titles match). Each query is answered twice from the same search:
// with the shipped model's one threshold for every photo (before), and with it only where the
// model is sure of the heads it was calibrated on (model.json embedding.exactMatchHeads).
// Run: node --import tsx bench/exact-badge.ts [--per-vertical 300] [--k 10] [--datasets ../shared/datasets] [--print]
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseCsv } from '../src/catalog/csv.ts';
import { sha256 } from '../src/catalog/hash.ts';
import { openCatalog } from '../src/catalog/open.ts';
import { LOCAL_POLICY, publish, type PublishListing } from '../src/ingest/index.ts';
import { ModelAnalyzer } from '../src/pipelines/analyze.ts';
import { searchCatalog, sureLabels } from '../src/search/search.ts';
import { readGroceryClasses } from '../src/train/datasets/grocery.ts';
import { GroknetError } from '../src/errors.ts';
import { REPO, round } from '../scripts/reliability/lib/common.ts';
import { readFashionProducts } from './lib/fashion-products.ts';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    'per-vertical': { type: 'string', default: '300' },
    k: { type: 'string', default: '10' },
    datasets: { type: 'string', default: '../shared/datasets' },
    print: { type: 'boolean', default: false },
  },
});
const PER = Number(values['per-vertical']);
const K = Number(values.k);
const root = path.resolve(REPO, values.datasets!);
for (const name of ['grocery', 'fashion-products', 'furniture']) {
  if (!existsSync(path.join(root, name))) {
    console.error(`no ${name} dataset under ${root} (this bench needs it; --datasets DIR)`);
    process.exit(2);
  }
}
const order = <T extends { key: string }>(items: T[]): T[] => items.sort((a, b) => sha256(a.key).localeCompare(sha256(b.key)));

interface Item {
  key: string;
  file: string;
  title: string;
  /** What makes a catalog product the right answer for this photo. */
  product: string;
}
// Grocery: catalog images are the products; validation photos are the queries.
const grocery = path.join(root, 'grocery');
const classes = await readGroceryClasses(grocery);
const groceryCatalog: Item[] = classes.map((c) => ({ key: `g${c.fineId}`, file: c.iconicImage, title: `${c.fine} (${c.coarse})`, product: c.fine }));
const groceryQueries: Item[] = order(
  (await readFile(path.join(grocery, 'val.txt'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [file, fine] = line.split(',').map((s) => s.trim());
      return { key: file!, file: path.join(grocery, file!), title: '', product: classes[Number(fine)]!.fine };
    }),
).slice(0, PER);
// Fashion: one half of the hash order is the catalog, the other half the queries.
const fashion: Item[] = (await readFashionProducts(values.datasets!)).map((r) => ({ key: r.id, file: r.file, title: r.fields.title!, product: r.fields.title! }));
const fashionCatalog = fashion.slice(0, PER * 2);
const fashionQueries = fashion.slice(PER * 2, PER * 3);
// Furniture: the same split.
const furnitureRecords = parseCsv(await readFile(path.join(root, 'furniture', 'labels.csv'), 'utf8'));
const furniture = order(furnitureRecords.slice(1).map((r) => ({ key: r.fields[0]!, file: path.join(root, 'furniture', r.fields[0]!), title: `${r.fields[1]} ${path.basename(r.fields[0]!, '.jpg')}`, product: r.fields[0]! })));
const furnitureCatalog = furniture.slice(0, PER * 2);
const furnitureQueries = furniture.slice(PER * 2, PER * 3);

const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-exact-bench-'));
const analyzer = await ModelAnalyzer.open();
const catalog = await openCatalog(path.join(work, 'data'), { embeddingDim: analyzer.embeddingDim });
const productOf = new Map<string, string>();
const listings: PublishListing[] = [...groceryCatalog, ...fashionCatalog, ...furnitureCatalog].map((item) => {
  productOf.set(item.key, item.product);
  return { item: item.key, id: item.key, title: item.title, description: '', price: null, currency: null, category: null, attributes: {}, images: [item.file] };
});
const t0 = performance.now();
const published = await publish(listings, { catalog, analyzer, policy: LOCAL_POLICY });
console.log(`catalog: ${published.indexed} listings in ${round((performance.now() - t0) / 1000)} s (${published.failed.length} failed)`);

interface Tally {
  queries: number;
  badges: number;
  /** Of the badges, those given as the same photo (similarity >= SAME_PHOTO_SIMILARITY outside the calibrated heads). */
  samePhoto: number;
  right: number;
  /** Queries whose right product came back exact. */
  found: number;
}
const empty = (): Tally => ({ queries: 0, badges: 0, samePhoto: 0, right: 0, found: 0 });
const rows: string[] = [];
for (const [vertical, queries] of [['grocery', groceryQueries], ['fashion', fashionQueries], ['home (furniture)', furnitureQueries]] as const) {
  const before = empty();
  const after = empty();
  for (let i = 0; i < queries.length; i += 16) {
    const batch = queries.slice(i, i + 16);
    const analyses = await analyzer.analyzeBuffers(await Promise.all(batch.map((q) => readFile(q.file))));
    for (const [j, analysis] of analyses.entries()) {
      if (analysis instanceof GroknetError) continue;
      const query = batch[j]!;
      for (const [tally, heads] of [[before, undefined], [after, analyzer.exactMatchHeads]] as const) {
        const response = await searchCatalog({ catalog, exactMatchThreshold: analyzer.exactMatchThreshold, exactMatchHeads: heads }, { embedding: analysis.embedding, labels: sureLabels(analysis), filters: {}, limit: K });
        const exact = response.results.filter((r) => r.match === 'exact');
        const right = exact.filter((r) => productOf.get(r.id) === query.product);
        tally.queries++;
        tally.badges += exact.length;
        tally.samePhoto += exact.filter((r) => r.why.some((w) => w.includes('the same photo'))).length;
        tally.right += right.length;
        if (right.length > 0) tally.found++;
      }
    }
  }
  const line = (t: Tally) => `${t.badges} (${round(t.badges / Math.max(1, t.queries), 2)} per query${t.samePhoto ? `, ${t.samePhoto} as the same photo` : ''}), precision ${t.badges === 0 ? '-' : round(t.right / t.badges, 3)}, right product exact for ${round(t.found / Math.max(1, t.queries), 3)}`;
  rows.push(`| ${vertical} | ${before.queries} | ${line(before)} | ${line(after)} |`);
  console.log(rows.at(-1));
}

const markdown = [
  '## "Exact" per vertical (issue #24)',
  '',
  `Command: \`node --import tsx bench/exact-badge.ts --per-vertical ${PER} --k ${K}\`. Machine: ${machine()}. Model: ${analyzer.modelVersion}, threshold ${analyzer.exactMatchThreshold}, calibrated on ${analyzer.exactMatchHeads?.join(' + ') ?? 'every photo'}.`,
  '',
  `One catalog of ${published.indexed} listings: the ${groceryCatalog.length} grocery products' catalog images, ${fashionCatalog.length} fashion-products shots and ${furnitureCatalog.length} furniture photos (hash-ordered halves of those datasets). Queries: ${PER} grocery validation photos (their product is in the catalog), ${PER} fashion-products shots and ${PER} furniture photos from the other halves (not in the catalog). Top ${K} per query; "exact" badges counted with the one threshold everywhere (before) and only where every calibration head is sure of the product (after).`,
  '',
  '| queries | n | exact badges, before | exact badges, after |',
  '|---|---|---|---|',
  ...rows,
  '',
].join('\n');
if (values.print) console.log(markdown);
else await writeSection('exact-badge', markdown);
await catalog.close();
await analyzer.close();
await rm(work, { recursive: true, force: true });
