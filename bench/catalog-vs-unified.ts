// Issue #26's missing figure: a head taught from a catalog (`groknet train --catalog` over a
// shipped model that never saw the data) against the same head trained inside the full
// unified run. The head is fashion-products' `gender`. The catalog is LISTINGS listings with
// their true labels, published with the base model; the unified model's gender head trained on
// the unified run's split of the same dataset (src/train/datasets/fashion-products.ts). Both
// are scored on the photos neither trained on: held out of the unified run (title hash) and not
// in the catalog, with gender Men, Women or Unisex (the unified head merges Boys and Girls into
// Kids, the catalog head keeps them apart, so kids' products are left out of the comparison).
// Run: node --import tsx bench/catalog-vs-unified.ts [--base models/groknet-base-0.4.4]
//        [--unified models/groknet-base] [--listings 5000] [--datasets ../shared/datasets] [--print]
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openCatalog } from '../src/catalog/open.ts';
import { LOCAL_POLICY, publish, type PublishListing } from '../src/ingest/index.ts';
import { ModelAnalyzer } from '../src/pipelines/analyze.ts';
import { loadFashionProducts } from '../src/train/datasets/fashion-products.ts';
import { CLI, REPO, round, startChild } from '../scripts/reliability/lib/common.ts';
import { readFashionProducts } from './lib/fashion-products.ts';
import { scoreHead } from './lib/score-head.ts';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    unified: { type: 'string', default: 'models/groknet-base' },
    listings: { type: 'string', default: '5000' },
    datasets: { type: 'string', default: '../shared/datasets' },
    print: { type: 'boolean', default: false },
  },
});
if (!values.base) {
  console.error('--base DIR: a model that never trained on fashion-products (e.g. 0.4.4: git show 42cd27f:models/groknet-base/... into a folder)');
  process.exit(2);
}
const LISTINGS = Number(values.listings);
const base = path.resolve(REPO, values.base);
const unified = path.resolve(REPO, values.unified!);
const HEAD = 'gender';
const COMPARED = new Set(['Men', 'Women', 'Unisex']);

const rows = (await readFashionProducts(values.datasets!)).filter((r) => r.fields.gender && r.fields.gender !== 'NA');
const catalogRows = rows.slice(0, LISTINGS);
const inCatalog = new Set(catalogRows.map((r) => r.file));
const unifiedSplit = await loadFashionProducts(path.join(path.resolve(REPO, values.datasets!), 'fashion-products'));
const unifiedHeldOut = new Set(unifiedSplit.samples.filter((s) => s.split === 'val').map((s) => s.path));
const evalRows = rows.filter((r) => unifiedHeldOut.has(r.file) && !inCatalog.has(r.file) && COMPARED.has(r.fields.gender!));

const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-catalog-vs-unified-'));
const data = path.join(work, 'data');
await mkdir(path.join(data, 'models'), { recursive: true });
const seconds = (from: number): number => round((performance.now() - from) / 1000, 1);

// 1. The catalog, published with the base model; 2. the head from it.
let t = performance.now();
{
  const analyzer = await ModelAnalyzer.open(base);
  const catalog = await openCatalog(data, { embeddingDim: analyzer.embeddingDim });
  const listings: PublishListing[] = catalogRows.map((r) => ({ item: r.id, id: `fp-${r.id}`, title: r.fields.title!, description: '', price: null, currency: null, category: null, attributes: { [HEAD]: r.fields.gender! }, images: [r.file] }));
  const summary = await publish(listings, { catalog, analyzer, policy: LOCAL_POLICY });
  await catalog.close();
  await analyzer.close();
  console.log(`published ${summary.indexed} listings (${summary.failed.length} failed) in ${seconds(t)} s`);
}
t = performance.now();
const catalogModel = path.join(data, 'models', 'gender');
{
  const child = startChild(process.execPath, [CLI, 'train', '--catalog', data, '--head', HEAD, '--from', `attributes.${HEAD}`, '--out', catalogModel, '--model', base], { cwd: REPO, env: { ...process.env, CI: 'true' } });
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`train --catalog exited ${code}: ${child.stderr().slice(-3000)}`);
}
const trainSeconds = seconds(t);

const score = async (modelDir: string) => {
  const r = await scoreHead(modelDir, HEAD, evalRows.map((row) => ({ file: row.file, label: row.fields.gender! })));
  return { version: r.version, accuracy: r.accuracy, answered: r.answered, precision: r.precisionAnswered };
};
const fromCatalog = await score(catalogModel);
const inUnified = await score(unified);
const majority = Math.max(...[...COMPARED].map((g) => evalRows.filter((r) => r.fields.gender === g).length)) / evalRows.length;
await rm(work, { recursive: true, force: true });

const markdown = [
  '## A head taught from the catalog against the same head in the unified run',
  '',
  `Command: \`node --import tsx bench/catalog-vs-unified.ts --base ${values.base} --unified ${values.unified} --listings ${LISTINGS}\`. Machine: ${machine()}.`,
  `Head: fashion-products' \`gender\`. From the catalog: ${catalogRows.length} listings with their true labels, published with ${values.base}, then \`groknet train --catalog\` over it (${trainSeconds} s, features computed). In the unified run: the \`gender\` head of ${inUnified.version}, trained with every other head on its own split of the dataset. Scored on the ${evalRows.length} photos neither trained on (held out of the unified run, not in the catalog; Men, Women and Unisex only). Always answering the commonest label scores ${round(majority, 3)}.`,
  '',
  '| head | accuracy | answered | precision where answered |',
  '|---|---|---|---|',
  `| from the catalog (${fromCatalog.version}) | ${fromCatalog.accuracy} | ${fromCatalog.answered} | ${fromCatalog.precision} |`,
  `| in the unified run (${inUnified.version}) | ${inUnified.accuracy} | ${inUnified.answered} | ${inUnified.precision} |`,
].join('\n');
if (values.print) process.stdout.write(`${markdown}\n`);
else await writeSection('catalog-vs-unified', markdown);
