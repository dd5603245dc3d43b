// The seed's own example end to end on real photos (issue #25): a mixed marketplace catalog
// (the furniture held-out photos, fashion-products and grocery held-out photos), every
// listing titled "Listing N" so only the model's labels can find it, searched by words.
// Reports what the first results are (their true furniture class, the stored colour and how
// it was reached) and writes a contact sheet of them for a person to check the colour by eye.
// Run: node --import tsx bench/yellow-sofa.ts [--model models/groknet-base] [--query "yellow mid-century loveseat"]
//        [--sheet /tmp/yellow-sofa.png] [--datasets ../shared/datasets] [--print]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { sha256 } from '../src/catalog/hash.ts';
import { openCatalog } from '../src/catalog/open.ts';
import { LOCAL_POLICY, publish, type PublishListing } from '../src/ingest/index.ts';
import { ModelAnalyzer } from '../src/pipelines/analyze.ts';
import { searchCatalog } from '../src/search/search.ts';
import { loadFashionProducts } from '../src/train/datasets/fashion-products.ts';
import { loadFurniture } from '../src/train/datasets/furniture.ts';
import { loadGrocery } from '../src/train/datasets/grocery.ts';
import { REPO } from '../scripts/reliability/lib/common.ts';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/groknet-base' },
    query: { type: 'string', multiple: true },
    sheet: { type: 'string', default: path.join(os.tmpdir(), 'yellow-sofa.png') },
    // Every furniture photo, not only the held-out ones: the held-out sofas include none the palette calls yellow.
    'all-furniture': { type: 'boolean', default: false },
    datasets: { type: 'string', default: '../shared/datasets' },
    print: { type: 'boolean', default: false },
  },
});
const queries = values.query?.length ? values.query : ['yellow mid-century loveseat', 'yellow sofa'];
const root = path.resolve(REPO, values.datasets!);
const order = <T extends { path: string }>(items: T[]): T[] => items.sort((a, b) => sha256(a.path).localeCompare(sha256(b.path)));

const furniture = await loadFurniture(path.join(root, 'furniture'));
const fashion = await loadFashionProducts(path.join(root, 'fashion-products'));
const grocery = await loadGrocery(path.join(root, 'grocery'));
const truthOf = new Map<string, string>();
const photos = [
  ...order(furniture.samples.filter((s) => values['all-furniture'] || s.split === 'val')).map((s) => {
    truthOf.set(s.path, furniture.tasks.furniture![s.single.furniture!]!);
    return s.path;
  }),
  ...order(fashion.samples.filter((s) => s.split === 'val')).slice(0, 300).map((s) => (truthOf.set(s.path, 'fashion'), s.path)),
  ...order(grocery.samples.filter((s) => s.split === 'val')).slice(0, 150).map((s) => (truthOf.set(s.path, 'grocery'), s.path)),
];
const listings: PublishListing[] = order(photos.map((p) => ({ path: p }))).map(({ path: file }, i) => ({
  item: file,
  id: `l${i}`,
  title: `Listing ${i}`,
  description: '',
  price: null,
  currency: null,
  category: null,
  attributes: {},
  images: [file],
}));

const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-yellow-sofa-'));
const analyzer = await ModelAnalyzer.open(path.resolve(REPO, values.model!));
const catalog = await openCatalog(path.join(work, 'data'), { embeddingDim: analyzer.embeddingDim });
const started = performance.now();
const summary = await publish(listings, { catalog, analyzer, policy: LOCAL_POLICY });
const indexSeconds = Math.round((performance.now() - started) / 1000);
const fileOf = new Map(listings.map((l) => [l.id, String(l.images[0])]));

const lines = [
  '## A yellow sofa, end to end',
  '',
  `Command: \`node --import tsx bench/yellow-sofa.ts --model ${values.model}${values['all-furniture'] ? ' --all-furniture' : ''}\`. Machine: ${machine()}. Model: ${analyzer.modelVersion}.`,
  `Catalog: ${summary.indexed} listings (${summary.failed.length} failed, indexed in ${indexSeconds} s): ${values['all-furniture'] ? `all ${furniture.samples.length} furniture photos (the furniture head trained on the ${furniture.samples.filter((s) => s.split === 'train').length} outside its held-out split; colour is not learned for furniture but measured from the pixels)` : `the ${furniture.samples.filter((s) => s.split === 'val').length} furniture held-out photos`}, 300 fashion-products and 150 grocery held-out photos, each titled "Listing N" (no words to match: only the model's labels find them). Furniture classes are the dataset's; whether a photo is yellow was checked by eye on the contact sheet.`,
  '',
];
const sheets: Buffer[] = [];
for (const query of queries) {
  const answer = await searchCatalog({ catalog, exactMatchThreshold: analyzer.exactMatchThreshold, exactMatchHeads: analyzer.exactMatchHeads }, { text: query, filters: {}, limit: 10 });
  lines.push(`### "${query}"`, '', ...(answer.notes ?? []).map((n) => `Note in the answer: ${n}`), '', '| rank | true class | why |', '|---|---|---|');
  answer.results.forEach((r, i) => lines.push(`| ${i + 1} | ${truthOf.get(fileOf.get(r.id)!) ?? '?'} | ${r.why.join('; ')} |`));
  const sofas = answer.results.filter((r) => truthOf.get(fileOf.get(r.id)!) === 'sofa').length;
  lines.push('', `Sofas in the first ${answer.results.length}: ${sofas}.`, '');
  const tiles = await Promise.all(answer.results.map((r) => sharp(fileOf.get(r.id)!).resize(160, 160, { fit: 'cover' }).png().toBuffer()));
  if (tiles.length > 0) {
    sheets.push(await sharp({ create: { width: 160 * tiles.length, height: 160, channels: 3, background: '#fff' } }).composite(tiles.map((input, i) => ({ input, left: i * 160, top: 0 }))).png().toBuffer());
  }
}
if (sheets.length > 0) {
  await sharp({ create: { width: 1600, height: 160 * sheets.length, channels: 3, background: '#fff' } }).composite(sheets.map((input, i) => ({ input, left: 0, top: i * 160 }))).png().toFile(values.sheet!);
  process.stderr.write(`contact sheet (one row per query, rank 1 on the left): ${values.sheet}\n`);
}
await catalog.close();
await analyzer.close();
await rm(work, { recursive: true, force: true });
const markdown = lines.join('\n');
if (values.print) process.stdout.write(`${markdown}\n`);
else await writeSection('yellow-sofa', markdown);

