// Search relevance on real listings (issue #24): fashion-products listings published with the
// shipped model into two catalogs, one with the catalogue's titles and one with photos only
// (titles that are bare ids, as `groknet index` gives a folder of photos), then asked
// 1. each sampled listing's exact title: is the listing (or one of the same title) first?
// 2. "<colour> <kind>" queries built from the catalogue's own labels (baseColour + articleType,
//    e.g. "navy blue tshirts"): precision@10 against those labels, in both catalogs.
// The queries are split in two halves by a hash: "dev" and "held back". Nothing in the ranking
// was tuned on either (the weights predate this bench); both are reported, so a later change
// tuned on dev can be checked on the held-back half.
// Run: node --import tsx bench/relevance.ts [--listings 2000] [--titles 300] [--datasets ../shared/datasets] [--label NAME] [--all-rows] [--model DIR]
// (in each checkout to compare; BENCHMARKS.md "Search relevance" holds the two columns side by side)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sha256 } from '../src/catalog/hash.ts';
import { openCatalog } from '../src/catalog/open.ts';
import type { CatalogStore } from '../src/catalog/types.ts';
import { LOCAL_POLICY, publish, type PublishListing } from '../src/ingest/index.ts';
import { ModelAnalyzer } from '../src/pipelines/analyze.ts';
import { searchCatalog } from '../src/search/search.ts';
import { REPO, round } from '../scripts/reliability/lib/common.ts';
import { readFashionProducts } from './lib/fashion-products.ts';
import { loadFashionProducts } from '../src/train/datasets/fashion-products.ts';
import { machine } from './report.ts';

const { values } = parseArgs({
  options: {
    listings: { type: 'string', default: '2000' },
    titles: { type: 'string', default: '300' },
    datasets: { type: 'string', default: '../shared/datasets' },
    label: { type: 'string', default: 'this checkout' },
    // Only the shots the trainer holds out (its own split): a model trained on fashion-products
    // (0.5.0 on) must not be scored on photos it learned. --all-rows reads the developers' part as before.
    'all-rows': { type: 'boolean', default: false },
    // The model that analyses the listings' photos (default: the shipped one).
    model: { type: 'string' },
    // Accepted for symmetry with the other benches: the table is always printed.
    print: { type: 'boolean', default: false },
  },
});
const LISTINGS = Number(values.listings);
const TITLES = Number(values.titles);
const MIN_RELEVANT = 5;
interface Row {
  id: string;
  file: string;
  colour: string;
  kind: string;
  title: string;
}
const heldOut = new Set((await loadFashionProducts(path.join(path.resolve(REPO, values.datasets!), 'fashion-products'))).samples.filter((s) => s.split === 'val').map((s) => s.path));
const rows: Row[] = (await readFashionProducts(values.datasets!))
  .map((r) => ({ id: r.id, file: r.file, colour: r.fields.baseColour!, kind: r.fields.articleType!, title: r.fields.title! }))
  .filter((r) => r.colour && r.colour !== 'NA' && r.kind && r.title)
  .filter((r) => values['all-rows'] || heldOut.has(r.file))
  .slice(0, LISTINGS);
const half = (key: string): 'dev' | 'held back' => (parseInt(sha256(`half:${key}`).slice(0, 8), 16) % 2 === 0 ? 'dev' : 'held back');

const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-relevance-bench-'));
const analyzer = await ModelAnalyzer.open(values.model ? path.resolve(REPO, values.model) : undefined);

async function build(name: string, titled: boolean): Promise<CatalogStore> {
  const catalog = await openCatalog(path.join(work, name), { embeddingDim: analyzer.embeddingDim });
  const listings: PublishListing[] = rows.map((row) => ({
    item: row.id,
    id: row.id,
    title: titled ? row.title : row.id,
    description: '',
    price: null,
    currency: null,
    category: null,
    attributes: {},
    images: [row.file],
  }));
  const t = performance.now();
  const summary = await publish(listings, { catalog, analyzer, policy: LOCAL_POLICY });
  await catalog.optimize();
  console.log(name, summary.indexed, 'indexed in', round((performance.now() - t) / 1000), 's');
  return catalog;
}

const titledCatalog = await build('titled', true);
const photosCatalog = await build('photos-only', false);

// 1. Exact titles.
const sampled = rows.filter((_, i) => i % Math.max(1, Math.floor(rows.length / TITLES)) === 0).slice(0, TITLES);
let titleFirst = 0;
let titleReciprocal = 0;
const titleMs: number[] = [];
for (const row of sampled) {
  const t = performance.now();
  const response = await searchCatalog({ catalog: titledCatalog }, { text: row.title, filters: {}, limit: 10 });
  titleMs.push(performance.now() - t);
  const rank = response.results.findIndex((r) => r.id === row.id || r.title === row.title);
  if (rank === 0) titleFirst++;
  if (rank >= 0) titleReciprocal += 1 / (rank + 1);
}

// 2. "<colour> <kind>" queries with at least MIN_RELEVANT listings.
const groups = new Map<string, Set<string>>();
for (const row of rows) {
  const key = `${row.colour.toLowerCase()} ${row.kind.toLowerCase()}`;
  (groups.get(key) ?? groups.set(key, new Set()).get(key)!).add(row.id);
}
const queries = [...groups].filter(([, ids]) => ids.size >= MIN_RELEVANT).sort(([a], [b]) => a.localeCompare(b));
interface Precision {
  dev: number[];
  'held back': number[];
}
async function precisionAt10(catalog: CatalogStore): Promise<Precision> {
  const out: Precision = { dev: [], 'held back': [] };
  for (const [text, relevant] of queries) {
    const response = await searchCatalog({ catalog }, { text, filters: {}, limit: 10 });
    const hits = response.results.filter((r) => relevant.has(r.id)).length;
    out[half(text)].push(hits / Math.min(10, relevant.size));
  }
  return out;
}
const mean = (v: number[]) => (v.length === 0 ? 0 : round(v.reduce((a, b) => a + b, 0) / v.length, 3));
const titled = await precisionAt10(titledCatalog);
const photos = await precisionAt10(photosCatalog);
titleMs.sort((a, b) => a - b);

const report = {
  label: values.label,
  listings: rows.length,
  exactTitle: { queries: sampled.length, first: round(titleFirst / sampled.length, 3), mrr: round(titleReciprocal / sampled.length, 3), p50ms: round(titleMs[Math.floor(titleMs.length / 2)]!), p99ms: round(titleMs[Math.floor(titleMs.length * 0.99)]!) },
  colourKind: {
    queries: { dev: titled.dev.length, heldBack: titled['held back'].length },
    titled: { dev: mean(titled.dev), heldBack: mean(titled['held back']) },
    photosOnly: { dev: mean(photos.dev), heldBack: mean(photos['held back']) },
  },
};
console.log(JSON.stringify(report, null, 2));
const markdown = [
  `### ${values.label}`,
  '',
  `Command: \`node --import tsx bench/relevance.ts --listings ${LISTINGS} --titles ${TITLES} --label "${values.label}"${values['all-rows'] ? ' --all-rows' : ''}${values.model ? ` --model ${values.model}` : ''}\`. Machine: ${machine()}. Listings: ${rows.length} fashion-products shots, ${values['all-rows'] ? 'the developers\' part (a model trained on fashion-products has seen most of them)' : 'those the trainer holds out (never trained on)'}; model ${analyzer.modelVersion}.`,
  '',
  `| measure | ${values.label} |`,
  '|---|---|',
  `| exact title first (${sampled.length} titles, titled catalog) | ${report.exactTitle.first} (MRR ${report.exactTitle.mrr}; p50 ${report.exactTitle.p50ms} ms) |`,
  `| "<colour> <kind>" P@10, titled catalog, dev (${titled.dev.length} queries) | ${report.colourKind.titled.dev} |`,
  `| "<colour> <kind>" P@10, titled catalog, held back (${titled['held back'].length} queries) | ${report.colourKind.titled.heldBack} |`,
  `| "<colour> <kind>" P@10, photos-only catalog, dev | ${report.colourKind.photosOnly.dev} |`,
  `| "<colour> <kind>" P@10, photos-only catalog, held back | ${report.colourKind.photosOnly.heldBack} |`,
  '',
].join('\n');
// Printed, not written: BENCHMARKS.md's "Search relevance" section sets two runs (two checkouts) side by side.
console.log(markdown);
await titledCatalog.close();
await photosCatalog.close();
await analyzer.close();
await rm(work, { recursive: true, force: true });
