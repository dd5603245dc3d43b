// Photos of products indexed from files (`groknet index`) served by the API, as uploads are:
// GET /v1/products/:id/images/:index reads the file at the path the catalog stored, only for
// an id and index the catalog has; images[].url, search hits and seen-together link to it.
// And GET /v1/catalog: the product count the page asks for instead of a probe search.
// Over a real tiny model and a real LanceDB catalog, products written by `ingest` (what
// `groknet index` runs) from a folder of folders.
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingest } from '../../src/ingest/ingest.ts';
import { buildApp, type App } from '../../src/server/app.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';
import { assertError, multipart } from './helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from './helpers/server.ts';
import { createShopModel } from './helpers/shop-model.ts';

let shop: TestShop;
let app: App;
let photos: Awaited<ReturnType<typeof tempDir>>;
const ODD = 'Größe M 100% Baumwolle? #42 a+b&c';

const file = (...parts: string[]) => path.join(photos.path, ...parts);

before(async () => {
  shop = await openTestShop((await createShopModel()).dir);
  app = await shop.app();
  photos = await tempDir('groknet-photos-');
  await mkdir(file('Tops', 'Red-Tee'), { recursive: true });
  await writeFile(file('Tops', 'Red-Tee', 'front.png'), await solidImage(TINY_COLOURS.red!));
  await writeFile(file('Tops', 'Red-Tee', 'back.jpg'), await solidImage([200, 40, 40], 48, 'jpeg'));
  // Two folders named Blue: their ids are their paths, with a slash.
  for (const [top, colour] of [['Tops', 'blue'], ['Dresses', 'blue']] as const) {
    await mkdir(file(top, 'Blue'), { recursive: true });
    await writeFile(file(top, 'Blue', 'photo.png'), await solidImage(top === 'Tops' ? TINY_COLOURS[colour]! : [40, 50, 200]));
  }
  await mkdir(file('Hats', ODD), { recursive: true });
  await writeFile(file('Hats', ODD, 'hat.png'), await solidImage(TINY_COLOURS.yellow!));
  await mkdir(file('Shoes', 'Gone'), { recursive: true });
  await writeFile(file('Shoes', 'Gone', 'shoe.png'), await solidImage(TINY_COLOURS.black!));
});
after(async () => {
  await shop?.close();
  await photos?.cleanup();
});

const url = (id: string, index: number) => `/v1/products/${encodeURIComponent(id)}/images/${index}`;

describe('GET /v1/catalog', () => {
  test('an empty catalog: 0 products, the model and its heads\' titles; after `groknet index`: the count', async () => {
    const empty = await app.inject('/v1/catalog');
    assert.equal(empty.statusCode, 200, empty.body);
    // The titles are the model.json's (test/server/helpers/shop-model.ts), not the head names.
    const fields = { colour: 'Colour', clothing: 'Clothing type' };
    assert.deepEqual(empty.json(), { products: 0, model: { name: 'tiny-shop', version: '0.0.1' }, fields });
    assert.equal(`${empty.json().model.name}@${empty.json().model.version}`, shop.analyzer.modelVersion);

    const summary = await ingest(photos.path, { catalog: shop.catalog, analyzer: shop.analyzer });
    assert.deepEqual(summary.failed, []);
    assert.equal(summary.indexed, 5);
    assert.deepEqual((await app.inject('/v1/catalog')).json(), { products: 5, model: { name: 'tiny-shop', version: '0.0.1' }, fields });
  });

  test('a server without a catalog answers 503', async () => {
    const bare = await buildApp({ analyzer: shop.analyzer, config: { dataDir: shop.dataDir, rateLimitPerMinute: 0, web: false, apiKey: 'k'.repeat(20) } });
    try {
      assertError(await bare.inject('/v1/catalog'), 503, 'unavailable');
    } finally {
      await bare.close();
    }
  });
});

describe('photos of products indexed from files', () => {
  test('images[].url of an indexed product serves the file: same bytes, its content type, a CSP, an ETag', async () => {
    const product = (await app.inject('/v1/products/Red-Tee')).json() as { images: Array<{ index: number; url: string }> };
    // Images are stored in name order: back.jpg, front.png.
    assert.deepEqual(product.images.map((i) => i.url), [url('Red-Tee', 0), url('Red-Tee', 1)]);
    for (const [image, name, type] of [[product.images[0]!, 'back.jpg', 'image/jpeg'], [product.images[1]!, 'front.png', 'image/png']] as const) {
      const res = await app.inject(image.url);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], type);
      assert.equal(res.headers['content-security-policy'], "default-src 'none'; sandbox");
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.ok(res.rawPayload.equals(await readFile(file('Tops', 'Red-Tee', name))), name);
      assert.equal(Number(res.headers['content-length']), res.rawPayload.length);
      const again = await app.inject({ url: image.url, headers: { 'if-none-match': String(res.headers.etag) } });
      assert.equal(again.statusCode, 304);
      assert.equal(again.rawPayload.length, 0);
    }
  });

  test('ids with a slash, spaces, %, ?, #, + and umlauts are URL-encoded in the URL and served', async () => {
    for (const id of ['Tops/Blue', 'Dresses/Blue', ODD]) {
      const got = await app.inject(`/v1/products/${encodeURIComponent(id)}`);
      assert.equal(got.statusCode, 200, `${id}: ${got.body}`);
      const photo = got.json().images[0].url as string;
      assert.equal(photo, url(id, 0));
      const res = await app.inject(photo);
      assert.equal(res.statusCode, 200, `${id}: ${res.body}`);
      const folder = id === ODD ? ['Hats', ODD] : id.split('/');
      const name = id === ODD ? 'hat.png' : 'photo.png';
      assert.ok(res.rawPayload.equals(await readFile(file(...folder, name))), id);
    }
  });

  test('search hits and similar products link to the same URLs', async () => {
    const search = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'tee' }, headers: { 'content-type': 'application/json' } });
    assert.equal(search.statusCode, 200, search.body);
    const hit = (search.json().results as Array<{ id: string; image: string }>).find((r) => r.id === 'Red-Tee');
    assert.ok(hit, search.body);
    assert.match(hit.image, /^\/v1\/products\/Red-Tee\/images\/[01]$/);
    assert.equal((await app.inject(hit.image)).statusCode, 200);
    const similar = (await app.inject(`/v1/products/${encodeURIComponent('Tops/Blue')}/similar`)).json() as { results: Array<{ id: string; image: string }> };
    assert.ok(similar.results.length > 0);
    for (const r of similar.results) assert.match(r.image, new RegExp(`^/v1/products/${encodeURIComponent(r.id).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/images/\\d+$`));
  });

  test('a wrong index, an unknown product or a non-number index: 404 / 400, and no path from the request ever reaches the disk', async () => {
    assertError(await app.inject(url('Red-Tee', 2)), 404, 'not_found');
    assertError(await app.inject(url('Red-Tee', 99)), 404, 'not_found');
    assertError(await app.inject(url('No-Such-Product', 0)), 404, 'not_found');
    for (const index of ['-1', '1.0', '0x1', 'abc', '1000', '%2fetc%2fpasswd']) {
      assertError(await app.inject(`/v1/products/Red-Tee/images/${index}`), 400, 'invalid_argument');
    }
    assertError(await app.inject('/v1/products/Red-Tee/images/%2e%2e'), 404, 'route_not_found');
    // Traversal in the id is only an id the catalog does not have.
    assertError(await app.inject(`/v1/products/${encodeURIComponent('../../etc/passwd')}/images/0`), 404, 'not_found');
    assertError(await app.inject('/v1/products/Red-Tee/images/'), 400, 'invalid_argument');
  });

  test('a file deleted, or replaced by a folder or by a link to a file that is no image, is a 404 (no listing, no other bytes)', async () => {
    const shoe = file('Shoes', 'Gone', 'shoe.png');
    assert.equal((await app.inject(url('Gone', 0))).statusCode, 200);
    await rm(shoe);
    const gone = assertError(await app.inject(url('Gone', 0)), 404, 'not_found');
    assert.match(gone.message, /no longer where it was indexed from/);
    assert.doesNotMatch(gone.message, new RegExp(photos.path), 'the path is not told');
    await mkdir(shoe);
    await writeFile(path.join(shoe, 'inside.png'), await solidImage(TINY_COLOURS.black!));
    assertError(await app.inject(url('Gone', 0)), 404, 'not_found');
    await rm(shoe, { recursive: true });
    await writeFile(file('secret.txt'), 'not for the web');
    await symlink(file('secret.txt'), shoe);
    const secret = await app.inject(url('Gone', 0));
    assertError(secret, 404, 'not_found');
    assert.doesNotMatch(secret.body, /not for the web/);
  });

  test('uploads keep their /v1/images/NAME URL', async () => {
    const body = await multipart({ title: 'Uploaded tee' }, [{ data: await solidImage(TINY_COLOURS.white!) }]);
    const res = await app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, authorization: `Bearer ${TEST_KEY}` } });
    assert.equal(res.statusCode, 201, res.body);
    const image = res.json().product.images[0] as { url: string };
    assert.match(image.url, /^\/v1\/images\/[0-9a-f]{64}\.png$/);
    assert.equal((await app.inject(image.url)).statusCode, 200);
  });

  test('OpenAPI documents both routes', async () => {
    const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, Record<string, { summary?: string; parameters?: Array<{ name: string }>; responses: Record<string, unknown> }>> };
    const photo = doc.paths['/v1/products/{id}/images/{index}']?.get;
    assert.ok(photo, Object.keys(doc.paths).join(', '));
    assert.deepEqual(photo.parameters?.map((p) => p.name).sort(), ['id', 'index']);
    assert.ok(photo.responses['404']);
    const catalog = doc.paths['/v1/catalog']?.get;
    assert.ok(catalog);
    assert.ok(catalog.responses['200']);
  });
});
