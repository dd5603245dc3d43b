// One query, one answer (issue #28): `groknet search --json` (a child process, as users run
// it) and the HTTP API (app.inject) over the same catalog and model return the same
// products in the same order, with the same scores, match kinds, reasons and facets, for
// every kind of query they take: words, words with filters, filters alone, a photo, a photo
// with filters, "more like this" (POST /v1/search and GET /v1/products/:id/similar), a
// limit, an empty catalog and an unknown product. Neither interface takes a binary code
// (src/search/search-binary.ts is library-only), so it has no case here.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openCatalog } from '../../src/catalog/index.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { buildApp, type App } from '../../src/server/app.ts';
import { runCli } from '../helpers/cli.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';
import { createShopModel } from '../server/helpers/shop-model.ts';

type Rgb = [number, number, number];

interface Listing {
  id: string;
  title: string;
  description: string;
  price: number;
  photos: Rgb[];
}

const LISTINGS: Listing[] = [
  { id: 'red-tee', title: 'Red cotton tee', description: 'Soft summer t-shirt', price: 10, photos: [TINY_COLOURS.red!] },
  { id: 'crimson-polo', title: 'Crimson polo', description: 'Cotton polo shirt', price: 25, photos: [[200, 45, 40]] },
  { id: 'blue-dress', title: 'Blue summer dress', description: 'Light cotton dress', price: 45, photos: [TINY_COLOURS.blue!] },
  { id: 'yellow-hat', title: 'Yellow sun hat', description: 'Straw hat', price: 15, photos: [TINY_COLOURS.yellow!] },
  { id: 'green-chinos', title: 'Green chinos', description: 'Slim fit trousers', price: 40, photos: [TINY_COLOURS.green!] },
  { id: 'black-boots', title: 'Black boots', description: 'Leather boots', price: 90, photos: [TINY_COLOURS.black!] },
  { id: 'white-shirt', title: 'White shirt', description: 'Cotton shirt', price: 30, photos: [TINY_COLOURS.white!] },
  // Two photos unlike each other: "more like this" is asked of the whole product, not of its first photo.
  { id: 'red-blue-set', title: 'Tee and dress set', description: 'Two pieces', price: 50, photos: [[235, 40, 35], [40, 50, 200]] },
];

let tmp: Awaited<ReturnType<typeof tempDir>>;
let modelDir: string;
let analyzer: ModelAnalyzer;
type ShopName = 'full' | 'empty';
/** The catalog of LISTINGS, and one with nothing in it: each with a server over it. */
const shops = new Map<ShopName, { dataDir: string; catalog: CatalogStore; app: App }>();
const shop = (name: ShopName) => shops.get(name) ?? assert.fail(`no ${name} shop`);
let redPhoto: string;

before(async () => {
  tmp = await tempDir('groknet-interfaces-');
  modelDir = (await createShopModel()).dir;
  const photos = path.join(tmp.path, 'photos');
  await mkdir(photos);
  const lines: string[] = [];
  for (const listing of LISTINGS) {
    const images: string[] = [];
    for (const [i, rgb] of listing.photos.entries()) {
      const name = `${listing.id}-${i}.png`;
      await writeFile(path.join(photos, name), await solidImage(rgb, 40));
      images.push(name);
    }
    lines.push(JSON.stringify({ id: listing.id, title: listing.title, description: listing.description, price: listing.price, currency: 'EUR', images }));
  }
  await writeFile(path.join(photos, 'listings.jsonl'), lines.join('\n'));
  redPhoto = path.join(tmp.path, 'query-red.png');
  await writeFile(redPhoto, await solidImage([225, 35, 30], 40));

  // The catalog as `groknet index` writes it; the server reads the same directory.
  const fullDir = path.join(tmp.path, 'full');
  const indexed = await runCli(['index', path.join(photos, 'listings.jsonl'), '--data', fullDir, '--model', modelDir, '--no-detect']);
  assert.equal(indexed.code, 0, indexed.stderr);
  analyzer = await ModelAnalyzer.open(modelDir, { batchSize: 8 });
  const emptyDir = path.join(tmp.path, 'empty');
  for (const [name, dataDir] of [['full', fullDir], ['empty', emptyDir]] as const) {
    const catalog = await openCatalog(dataDir, { embeddingDim: analyzer.embeddingDim });
    const app = await buildApp({ analyzer, catalog, config: { dataDir, apiKey: 'interfaces-test-key-0123', rateLimitPerMinute: 0, web: false, inference: { maxBatch: 8 } } });
    shops.set(name, { dataDir, catalog, app });
  }
});

after(async () => {
  for (const { app, catalog } of shops.values()) {
    await app.close();
    await catalog.close();
  }
  await analyzer?.close();
  await tmp?.cleanup();
});

interface Hit {
  id: string;
  score: number;
  match: string;
  why: string[];
}

/** What both interfaces must agree on; `facets` as field -> value -> count. */
interface Answer {
  query?: { kind: string; filters: unknown; terms: string[] };
  hits: Hit[];
  facets?: Record<string, Record<string, number>>;
}

type CliBody = { query: NonNullable<Answer['query']>; results: Hit[]; facets: Record<string, Record<string, number>> };
type ApiBody = { query?: Answer['query']; results: Hit[]; facets?: Record<string, Array<{ value: string; count: number }>> };

const hitOf = ({ id, score, match, why }: Hit): Hit => ({ id, score, match, why });

async function viaCli(name: ShopName, args: string[]): Promise<Answer> {
  const run = await runCli(['search', '--data', shop(name).dataDir, '--model', modelDir, ...args, '--json']);
  assert.equal(run.code, 0, `groknet search ${args.join(' ')}: ${run.stderr}`);
  const body = JSON.parse(run.stdout) as CliBody;
  return { query: { kind: body.query.kind, filters: body.query.filters, terms: body.query.terms }, hits: body.results.map(hitOf), facets: body.facets };
}

async function viaApi(name: ShopName, request: { search: Record<string, unknown> } | { url: string }): Promise<Answer> {
  const res =
    'search' in request
      ? await shop(name).app.inject({ method: 'POST', url: '/v1/search', payload: request.search })
      : await shop(name).app.inject({ method: 'GET', url: request.url });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as ApiBody;
  const answer: Answer = { hits: body.results.map(hitOf) };
  if (body.query) answer.query = { kind: body.query.kind, filters: body.query.filters, terms: body.query.terms };
  if (body.facets) answer.facets = Object.fromEntries(Object.entries(body.facets).map(([field, counts]) => [field, Object.fromEntries(counts.map((c) => [c.value, c.count]))]));
  return answer;
}

/** Same ids in the same order, scores within rounding, same match kinds, reasons, facets and parsed query. */
function assertSameAnswer(cli: Answer, api: Answer, what: string): void {
  assert.deepEqual(api.hits.map((h) => h.id), cli.hits.map((h) => h.id), `${what}: ids`);
  cli.hits.forEach((hit, i) => {
    const other = api.hits[i]!;
    assert.ok(Math.abs(hit.score - other.score) <= 1e-4, `${what}: ${hit.id} scores ${hit.score} (CLI) and ${other.score} (API)`);
    assert.equal(other.match, hit.match, `${what}: ${hit.id} match`);
    assert.deepEqual(other.why, hit.why, `${what}: ${hit.id} why`);
  });
  if (api.facets) assert.deepEqual(api.facets, cli.facets, `${what}: facets`);
  if (api.query) assert.deepEqual(api.query, cli.query, `${what}: parsed query`);
}

const photoBase64 = async (): Promise<string> => (await readFile(redPhoto)).toString('base64');

describe('the CLI and the API give one answer per query', () => {
  test('words; words with filters; filters alone', async () => {
    const words = await viaCli('full', ['--text', 'dress', '--k', '5']);
    assert.equal(words.hits[0]?.id, 'blue-dress');
    assertSameAnswer(words, await viaApi('full', { search: { text: 'dress', k: 5 } }), 'words');

    const filtered = await viaCli('full', ['--text', 'cotton', '--filter', 'price<=30', '--filter', 'colour=red', '--filter', 'colour=white', '--k', '10']);
    assert.ok(filtered.hits.length >= 2, JSON.stringify(filtered.hits));
    assertSameAnswer(filtered, await viaApi('full', { search: { text: 'cotton', filters: { price: { lte: 30 }, colour: ['red', 'white'] }, k: 10 } }), 'words + filters');

    const browse = await viaCli('full', ['--text', '', '--filter', 'price>=40', '--k', '10']);
    assert.ok(browse.hits.length >= 3, JSON.stringify(browse.hits));
    assertSameAnswer(browse, await viaApi('full', { search: { filters: { price: { gte: 40 } }, k: 10 } }), 'filters alone');
  });

  test('a photo; a photo with filters', async () => {
    const image = await photoBase64();
    const photo = await viaCli('full', ['--image', redPhoto, '--k', '20']);
    assert.equal(photo.hits[0]?.match, 'exact');
    // Below zero cosine nothing is "similar" (the green chinos are -0.57 from a red photo).
    assert.ok(photo.hits.every((h) => h.score >= 0), JSON.stringify(photo.hits));
    assert.ok(!photo.hits.some((h) => h.id === 'green-chinos'));
    assertSameAnswer(photo, await viaApi('full', { search: { image, k: 20 } }), 'photo');

    const filtered = await viaCli('full', ['--image', redPhoto, '--filter', 'price>=20', '--k', '20']);
    assert.ok(filtered.hits.length >= 1, JSON.stringify(filtered.hits));
    assertSameAnswer(filtered, await viaApi('full', { search: { image, filters: { price: { gte: 20 } }, k: 20 } }), 'photo + filters');
  });

  test('"more like this" asks the same of the product through search and through /similar', async () => {
    const cli = await viaCli('full', ['--product', 'red-blue-set', '--k', '20']);
    assert.ok(cli.hits.length >= 2, JSON.stringify(cli.hits));
    assert.ok(!cli.hits.some((h) => h.id === 'red-blue-set'), 'the product itself is left out');
    // Both photos are the query (their normalised mean): the blue one makes the blue dress
    // similar (0.51), which the red photo alone puts below zero (-0.47).
    const score = (id: string): number | undefined => cli.hits.find((h) => h.id === id)?.score;
    assert.ok(score('red-tee')! > 0.3 && score('blue-dress')! > 0.3, JSON.stringify(cli.hits));
    assert.ok(cli.hits.every((h) => h.score >= 0), JSON.stringify(cli.hits));
    assertSameAnswer(cli, await viaApi('full', { search: { productId: 'red-blue-set', k: 20 } }), 'more like this');
    assertSameAnswer(cli, await viaApi('full', { url: '/v1/products/red-blue-set/similar?k=20' }), '/similar');

    const filtered = await viaCli('full', ['--product', 'red-blue-set', '--filter', 'price<=30', '--k', '20']);
    assert.ok(filtered.hits.length >= 1, JSON.stringify(filtered.hits));
    assertSameAnswer(filtered, await viaApi('full', { search: { productId: 'red-blue-set', filters: { price: { lte: 30 } }, k: 20 } }), 'more like this + filters');
  });

  test('a limit keeps the first results of the same ranking', async () => {
    const image = await photoBase64();
    const cases: Array<[string, string[], { search: Record<string, unknown> } | { url: string }]> = [
      ['words', ['--text', 'cotton', '--k', '2'], { search: { text: 'cotton', k: 2 } }],
      ['photo', ['--image', redPhoto, '--k', '2'], { search: { image, k: 2 } }],
      ['more like this', ['--product', 'red-tee', '--k', '2'], { url: '/v1/products/red-tee/similar?k=2' }],
    ];
    for (const [what, args, request] of cases) {
      const cli = await viaCli('full', args);
      assert.equal(cli.hits.length, 2, what);
      assertSameAnswer(cli, await viaApi('full', request), `${what}, k=2`);
    }
  });

  test('an empty catalog answers nothing, the same way', async () => {
    const image = await photoBase64();
    for (const [args, search] of [
      [['--text', 'dress', '--k', '5'], { text: 'dress', k: 5 }],
      [['--image', redPhoto, '--k', '5'], { image, k: 5 }],
    ] as const) {
      const cli = await viaCli('empty', [...args]);
      assert.deepEqual(cli.hits, []);
      assertSameAnswer(cli, await viaApi('empty', { search }), `empty catalog ${args[0]}`);
    }
  });

  test('an unknown product is not_found through both', async () => {
    for (const name of ['full', 'empty'] as const) {
      const run = await runCli(['search', '--data', shop(name).dataDir, '--model', modelDir, '--product', 'no-such-product', '--json']);
      assert.equal(run.code, 1, run.stderr);
      for (const res of [
        await shop(name).app.inject({ method: 'POST', url: '/v1/search', payload: { productId: 'no-such-product' } }),
        await shop(name).app.inject('/v1/products/no-such-product/similar'),
      ]) {
        assert.equal(res.statusCode, 404, res.body);
        const { error } = res.json() as { error: { code: string; message: string } };
        assert.equal(error.code, 'not_found');
        assert.equal(run.stderr, `groknet search: ${error.message} [not_found]\n`, 'the same words');
      }
    }
  });
});
