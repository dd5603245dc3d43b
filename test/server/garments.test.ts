// Garments stored at indexing time, through the API: POST /v1/search filters on `garment`
// and `garment_colour` (and "red dress" in words), their facets and OpenAPI description,
// POST /v1/shop-the-look matching colours by the catalog's garment colours, and
// POST /v1/products?garments=true storing a published product's garments.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingest } from '../../src/ingest/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { buildApp, type App } from '../../src/server/app.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { outfitPhoto, outfitSegmenter, OUTFITS, writeOutfits, type Outfit } from '../helpers/outfits.ts';
import { tempDir } from '../helpers/tmp.ts';
import { TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError, multipart } from './helpers/http.ts';

// The shopper's photo for shop the look: one red tee.
const TEE: Outfit = { id: 'tee', title: 'tee', price: 0, width: 180, blocks: [{ rgb: TINY_COLOURS.red!, at: [0.2, 0.1, 0.6, 0.6] }], garments: [{ label: 't-shirt', block: 0 }] };

const analyzer = createColourAnalyzer();
let tmp: Awaited<ReturnType<typeof tempDir>>;
let catalog: CatalogStore;
let app: App;

before(async () => {
  tmp = await tempDir();
  catalog = await openCatalog(join(tmp.path, 'data'), { embeddingDim: analyzer.embeddingDim });
  const segmenter = outfitSegmenter([...OUTFITS, TEE]);
  await ingest(await writeOutfits(tmp.path), { catalog, analyzer, segmenter });
  app = await buildApp({ analyzer, catalog, segmenter, config: { dataDir: join(tmp.path, 'data'), rateLimitPerMinute: 0, web: false, allowAnonymousWrites: true } });
});
after(async () => {
  await app?.close();
  await catalog?.close();
  await tmp.cleanup();
});

interface SearchJson {
  query: { filters: Record<string, unknown>; recognised: Array<{ field: string; value: string }> };
  results: Array<{ id: string; why: string[] }>;
  facets: Record<string, Array<{ value: string; count: number }>>;
}

const search = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/search', payload: body });
const ids = (res: { json(): unknown }) => (res.json() as SearchJson).results.map((r) => r.id).sort();

describe('POST /v1/search by garments', () => {
  test('garment_colour=red finds photos with a red garment and not =blue ones; values, lists and conditions', async () => {
    const red = await search({ filters: { garment_colour: 'red' } });
    assert.equal(red.statusCode, 200, red.body);
    assert.deepEqual(ids(red), ['dress-red', 'tee-and-jeans']);
    assert.deepEqual(ids(await search({ filters: { garment_colour: 'blue' } })), ['dress-blue', 'tee-and-jeans']);
    assert.deepEqual(ids(await search({ filters: { garment_colour: ['dress:red', 'dress:blue'] } })), ['dress-blue', 'dress-red']);
    assert.deepEqual(ids(await search({ filters: { garment: { eq: 'jeans' } } })), ['tee-and-jeans']);
    const facets = (red.json() as SearchJson).facets;
    assert.deepEqual(facets.garment_colour!.find((f) => f.value === 'red'), { value: 'red', count: 2 });
  });

  test('"red dress" puts the red dress first', async () => {
    const body = (await search({ text: 'red dress' })).json() as SearchJson;
    // Recognised words are evidence that ranks, not filters (hybrid text search).
    assert.deepEqual(body.query.filters, {});
    assert.deepEqual(body.query.recognised.map((r) => [r.field, r.value]), [['garment_colour', 'dress:red'], ['garment', 'dress']]);
    assert.deepEqual(body.results.map((r) => r.id), ['dress-red', 'dress-blue']);
  });

  test('a range on a garment field is a 400', async () => {
    assertError(await search({ text: 'dress', filters: { garment_colour: { gte: 2 } } }), 400, 'query_invalid');
  });

  test('the OpenAPI document names the garment filters', async () => {
    const doc = (await app.inject('/openapi.json')).json() as { components: { schemas: Record<string, { properties?: Record<string, { description?: string }> }> } };
    assert.match(doc.components.schemas.SearchRequest!.properties!.filters!.description ?? '', /garment_colour/);
  });
});

test('GET /v1/products/:id shows the garments stored with each photo; a product without them has none', async () => {
  const res = await app.inject({ method: 'GET', url: '/v1/products/dress-blue' });
  assert.equal(res.statusCode, 200);
  const product = res.json() as { images: Array<{ garments?: Array<{ label: string; colour: string | null; areaShare: number }> }> };
  const garments = product.images[0]!.garments!;
  assert.deepEqual(garments.map((g) => [g.label, g.colour]), [['dress', 'blue']]);
  assert.ok(garments[0]!.areaShare > 0 && garments[0]!.areaShare < 1);

  const plainDir = join(tmp.path, 'plain-data');
  const plain = await openCatalog(plainDir, { embeddingDim: analyzer.embeddingDim });
  await ingest(await writeOutfits(tmp.path, OUTFITS, 'plain.jsonl'), { catalog: plain, analyzer });
  const plainApp = await buildApp({ analyzer, catalog: plain, config: { dataDir: plainDir, rateLimitPerMinute: 0, web: false, allowAnonymousWrites: true } });
  try {
    const bare = (await plainApp.inject({ method: 'GET', url: '/v1/products/dress-blue' })).json() as { images: Array<Record<string, unknown>> };
    assert.equal('garments' in bare.images[0]!, false);
  } finally {
    await plainApp.close();
    await plain.close();
  }
});

test('POST /v1/shop-the-look?matchColour=true filters by the garment colours the catalog stores', async () => {
  const res = await app.inject({ method: 'POST', url: '/v1/shop-the-look?matchColour=true&k=5', payload: await outfitPhoto(TEE), headers: { 'content-type': 'image/png' } });
  assert.equal(res.statusCode, 200, res.body);
  const [tee] = (res.json() as { garments: Array<{ label: string; filters: Record<string, string>; results: Array<{ id: string }> }> }).garments;
  assert.equal(tee!.label, 't-shirt');
  assert.deepEqual(tee!.filters, { garment_colour: 'red' });
  assert.deepEqual(tee!.results.map((r) => r.id).sort(), ['dress-red', 'tee-and-jeans'], 'not the blue dress on a red wall');
});

test('POST /v1/products?garments=true stores the garments of a published photo: shown, and found by the garment filters', async () => {
  const body = await multipart({ title: 'Red tee', price: '15' }, [{ data: await outfitPhoto(TEE) }]);
  const res = await app.inject({ method: 'POST', url: '/v1/products?garments=true', ...body });
  assert.equal(res.statusCode, 201, res.body);
  const created = res.json() as { product: { id: string; images: Array<{ garments?: Array<{ label: string; colour: string | null }> }> } };
  assert.deepEqual(created.product.images[0]!.garments!.map((g) => [g.label, g.colour]), [['t-shirt', 'red']]);
  const found = await search({ filters: { garment_colour: 't-shirt:red' } });
  assert.ok(ids(found).includes(created.product.id), found.body);

  // Without ?garments the photo is published without them.
  const plain = await app.inject({ method: 'POST', url: '/v1/products', ...(await multipart({ title: 'Another tee' }, [{ data: await outfitPhoto({ ...TEE, width: 181 }) }])) });
  assert.equal(plain.statusCode, 201, plain.body);
  assert.equal('garments' in (plain.json() as { product: { images: Array<Record<string, unknown>> } }).product.images[0]!, false);
});

test('POST /v1/products?garments=true: a bad value is a 400 and a server without a segmenter a 503, and neither publishes anything', async () => {
  const before = await catalog.countProducts();
  const body = await multipart({ title: 'Red tee' }, [{ data: await outfitPhoto(TEE) }]);
  assertError(await app.inject({ method: 'POST', url: '/v1/products?garments=maybe', ...body }), 400, 'invalid_argument');
  const bare = await buildApp({ analyzer, catalog, config: { dataDir: join(tmp.path, 'data'), rateLimitPerMinute: 0, web: false, allowAnonymousWrites: true } });
  try {
    assertError(await bare.inject({ method: 'POST', url: '/v1/products?garments=true', ...body }), 503, 'unavailable');
  } finally {
    await bare.close();
  }
  assert.equal(await catalog.countProducts(), before);
});
