// Text search at catalog scale (issue #24, "speed stays"): N synthetic products written through
// the catalog's own insert (so the table, its FTS and label indexes are the catalog's), titles
// and descriptions composed from a product vocabulary, each with a predicted colour and type
// and a price; then searchText, the one entry every interface uses, for four kinds of query:
// an exact title, "<colour> <kind>" (hybrid: words + label evidence), "<kind> under <price>"
// (a hard price filter) and a word no listing has. Reports p50/p99 per kind and the plan each
// kind took (which candidate sources ran).
// Run: node --import tsx bench/text-search.ts [--rows 100000] [--queries 100] [--print]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openCatalog } from '../src/catalog/open.ts';
import type { ProductInput } from '../src/catalog/types.ts';
import { LABEL_CANDIDATES, searchText, TEXT_CANDIDATES } from '../src/search/search-text.ts';
import { rng } from '../src/util/random.ts';
import { machine, peakRssMiB, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '100' },
    print: { type: 'boolean', default: false },
    // Keeps the built catalog (and reuses it when it holds --rows products): building 100,000 takes ~3 minutes.
    'catalog-dir': { type: 'string' },
  },
});
const N = Number(values.rows);
const Q = Number(values.queries);
const DIM = 256;
const random = rng(7);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

const COLOURS = ['black', 'white', 'red', 'blue', 'navy blue', 'green', 'yellow', 'grey', 'brown', 'pink', 'purple', 'orange', 'beige', 'olive'];
const KINDS = ['shirt', 't-shirt', 'dress', 'jeans', 'sofa', 'chair', 'table', 'lamp', 'sneakers', 'boots', 'handbag', 'watch', 'skirt', 'jacket', 'mug', 'rug'];
const BRANDS = ['Acme', 'Northwind', 'Contoso', 'Fabrikam', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wayne', 'Tyrell'];
const STYLES = ['classic', 'slim', 'mid-century', 'vintage', 'modern', 'casual', 'formal', 'sport', 'rustic', 'minimal', 'oversized', 'cotton', 'leather', 'velvet', 'oak'];

function unit(): Float32Array {
  const v = Float32Array.from({ length: DIM }, () => random() - 0.5);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const work = values['catalog-dir'] ? path.resolve(values['catalog-dir']) : await mkdtemp(path.join(os.tmpdir(), 'groknet-text-bench-'));
const catalog = await openCatalog(path.join(work, 'data'), { embeddingDim: DIM });
const titles: string[] = [];
const t0 = performance.now();
const BATCH = 5000;
const reuse = (await catalog.countProducts()) === N;
// The same generator either way, so a reused catalog's titles are regenerated identically.
for (let start = 0; start < N; start += BATCH) {
  const batch: ProductInput[] = [];
  for (let i = start; i < Math.min(N, start + BATCH); i++) {
    const colour = pick(COLOURS);
    const kind = pick(KINDS);
    const title = `${pick(BRANDS)} ${pick(STYLES)} ${colour} ${kind} ${i}`;
    titles.push(title);
    // The model agrees with the title 80% of the time, at varied confidence.
    const predictedColour = random() < 0.8 ? colour : pick(COLOURS);
    const predictedKind = random() < 0.8 ? kind : pick(KINDS);
    const embedding = unit();
    batch.push({
      id: `p${i}`,
      title,
      description: `${pick(STYLES)} ${pick(STYLES)} ${kind}, ${pick(STYLES)} finish`,
      price: Math.round(random() * 500),
      currency: 'EUR',
      images: [
        {
          path: `/photos/p${i}.jpg`,
          contentHash: i.toString(16).padStart(64, '0'),
          analysis: {
            heads: {
              colour: { kind: 'single', top: [{ label: predictedColour, score: 0.4 + 0.6 * random() }] },
              type: { kind: 'single', top: [{ label: predictedKind, score: 0.4 + 0.6 * random() }] },
            },
            embedding,
            code: Array.from({ length: DIM / 4 }, (_, j) => (embedding.slice(j * 4, j * 4 + 4).reduce((acc, x, b) => acc | ((x > 0 ? 1 : 0) << (3 - b)), 0)).toString(16)).join(''),
            modelVersion: 'bench@1',
          },
        },
      ],
    });
  }
  if (!reuse) await catalog.insertProducts(batch);
}
const insertSeconds = (performance.now() - t0) / 1000;
const t1 = performance.now();
if (!reuse) await catalog.optimize();
const optimizeSeconds = (performance.now() - t1) / 1000;
console.log(`${N} rows inserted in ${insertSeconds.toFixed(1)} s, indexed in ${optimizeSeconds.toFixed(1)} s`);

const kinds: Record<string, () => string> = {
  'exact title': () => titles[Math.floor(random() * titles.length)]!,
  '<colour> <kind>': () => `${pick(COLOURS)} ${pick(KINDS)}`,
  '<kind> under <price>': () => `${pick(KINDS)} under ${10 + Math.floor(random() * 200)}`,
  'a word no listing has': () => `zanzibar${Math.floor(random() * 1000)}`,
};
const rows: string[] = [];
for (const [kind, make] of Object.entries(kinds)) {
  // Warm-up: the first queries open the indexes.
  for (let i = 0; i < 5; i++) await searchText(catalog, make());
  const ms: number[] = [];
  let results = 0;
  let firstRight = 0;
  for (let i = 0; i < Q; i++) {
    const text = make();
    const t = performance.now();
    const response = await searchText(catalog, text, { limit: 20 });
    ms.push(performance.now() - t);
    results += response.results.length;
    if (kind === 'exact title' && response.results[0]?.title === text) firstRight++;
  }
  ms.sort((a, b) => a - b);
  const p = (q: number) => ms[Math.min(ms.length - 1, Math.floor(ms.length * q))]!.toFixed(1);
  rows.push(`| ${kind} | ${p(0.5)} | ${p(0.99)} | ${(results / Q).toFixed(1)} |${kind === 'exact title' ? ` title first ${firstRight}/${Q}` : ''} |`);
  console.log(rows.at(-1));
}

const markdown = [
  '## Text search at scale (issue #24)',
  '',
  `Command: \`node --import tsx bench/text-search.ts --rows ${N} --queries ${Q}\`. Machine: ${machine()}. Peak RSS ${peakRssMiB().toFixed(0)} MiB.`,
  '',
  `${N} synthetic products written by the catalog's insert (titles "<brand> <style> <colour> <kind> <n>", a description, a price, predicted colour and type agreeing with the title 80% of the time at confidence 0.4-1.0), ${insertSeconds.toFixed(0)} s to insert, ${optimizeSeconds.toFixed(0)} s to index (FTS on title, description and attributes; bitmap indexes on the labels). Each query through \`searchText\` (what the API and CLI call), ${Q} per kind after 5 warm-up queries, limit 20. Plan: every query with words runs a BM25 full-text query over the indexed text columns (at most ${TEXT_CANDIDATES} rows); one whose words name a label also reads the rows so labelled with a score of 0.5 or more (at most ${LABEL_CANDIDATES}: where the words name two labels, two thirds of them labelled as both and a third as either), at the same time; a price phrase is a WHERE on both.`,
  '',
  '| query | p50 ms | p99 ms | results | |',
  '|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
if (values.print) console.log(markdown);
else await writeSection('text-search', markdown);
await catalog.close();
if (!values['catalog-dir']) await rm(work, { recursive: true, force: true });
