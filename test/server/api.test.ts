// The HTTP API end to end through app.inject, over a real tiny model (colour + clothing
// heads) and a real LanceDB catalog in a temp dir.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { App } from '../../src/server/app.ts';
import { pngClaiming, TEXT_FILE, truncatedJpeg } from '../helpers/bad-images.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError, assertNothingInternal, multipart } from './helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from './helpers/server.ts';
import { createShopModel } from './helpers/shop-model.ts';

let shop: TestShop;
let app: App;
let red: Buffer;
let blue: Buffer;
const auth = { authorization: `Bearer ${TEST_KEY}` };

before(async () => {
  const { dir } = await createShopModel();
  shop = await openTestShop(dir);
  app = await shop.app();
  red = await solidImage(TINY_COLOURS.red!);
  blue = await solidImage(TINY_COLOURS.blue!, 48, 'jpeg');
});
after(async () => shop?.close());

async function publish(image: Buffer, fields: Record<string, string>, headers: Record<string, string> = auth) {
  const body = await multipart(fields, [{ data: image }]);
  return app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, ...headers } });
}

describe('operations', () => {
  test('healthz, readyz and the OpenAPI document answer', async () => {
    assert.deepEqual((await app.inject('/healthz')).json(), { status: 'ok' });
    const ready = await app.inject('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ready: true, modelVersion: 'tiny-shop@0.0.1', model: { modelVersion: 'tiny-shop@0.0.1', name: 'tiny-shop', version: '0.0.1', path: null, switches: 0 }, checks: { model: 'ok', store: 'ok', queue: 'ok', detector: 'absent', segmenter: 'absent' } });

    const doc = (await app.inject('/openapi.json')).json() as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    assert.equal(doc.openapi, '3.0.3');
    for (const p of ['/v1/analyze', '/v1/products', '/v1/products/{id}', '/v1/search', '/v1/products/{id}/similar', '/v1/products/{id}/seen-together', '/v1/images/{name}', '/healthz', '/readyz', '/metrics']) {
      assert.ok(doc.paths[p], `missing ${p}`);
    }
    const analyzeDoc = doc.paths['/v1/analyze']!.post as { requestBody: { content: Record<string, unknown> } };
    assert.ok(analyzeDoc.requestBody.content['multipart/form-data'], 'multipart body documented');
    for (const id of ['Error', 'AnalyzeResponse', 'Product', 'SearchRequest', 'SearchHit']) assert.ok(doc.components.schemas[id], `component ${id}`);

    const docs = await app.inject('/docs/');
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger/i);
    assert.doesNotMatch(docs.body, /https?:\/\/(cdn|unpkg|cdnjs)/, 'docs must work offline');
  });

  test('unknown routes are 404 route_not_found in the error shape', async () => {
    assertError(await app.inject('/v2/nothing'), 404, 'route_not_found');
    assertError(await app.inject({ method: 'PUT', url: '/v1/search' }), 404, 'route_not_found');
    assertError(await app.inject('/v1/products/%E0%A4%A'), 400, 'invalid_argument');
  });

  test('every response carries the security headers', async () => {
    const res = await app.inject('/healthz');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['access-control-allow-origin'], undefined, 'CORS is off by default');
  });
});

describe('POST /v1/analyze', () => {
  test('a raw PNG body gives heads, code and a suggested listing with category path and colour', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/analyze', payload: red, headers: { 'content-type': 'image/png' } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.modelVersion, 'tiny-shop@0.0.1');
    assert.equal(body.heads.colour.top[0].label, 'red');
    assert.match(body.code, /^[0-9a-f]{4}$/);
    assert.equal(body.embedding, undefined, 'embedding only on request');
    assert.deepEqual(body.products, []);
    assert.equal(body.region, null);
    const { listing } = body;
    assert.deepEqual(listing.category.path, ['fashion', 'clothing', 'T-Shirt']);
    assert.equal(listing.category.abstain, false);
    assert.equal(listing.colour.value, 'red');
    assert.equal(listing.title.value, 'Red T-Shirt');
  });

  test('multipart upload, embedding on request', async () => {
    const body = await multipart({}, [{ data: blue, type: 'image/jpeg', name: 'blue.jpg' }]);
    const res = await app.inject({ method: 'POST', url: '/v1/analyze?embedding=true', ...body });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().listing.category.value, 'Dress');
    assert.equal(res.json().embedding.length, 16);
  });

  test('a region box crops before analysis (query or form fields)', async () => {
    // Left half red, right half blue.
    const halves = await sharp({ create: { width: 64, height: 32, channels: 3, background: { r: 220, g: 30, b: 30 } } })
      .composite([{ input: await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 30, g: 40, b: 210 } } }).png().toBuffer(), left: 32, top: 0 }])
      .png()
      .toBuffer();
    const right = await app.inject({ method: 'POST', url: '/v1/analyze?x=32&y=0&w=32&h=32', payload: halves, headers: { 'content-type': 'image/png' } });
    assert.equal(right.statusCode, 200, right.body);
    assert.equal(right.json().listing.colour.value, 'blue');
    assert.deepEqual(right.json().region, { x: 32, y: 0, w: 32, h: 32 });
    const form = await multipart({ x: '0', y: '0', w: '32', h: '32' }, [{ data: halves }]);
    const left = await app.inject({ method: 'POST', url: '/v1/analyze', ...form });
    assert.equal(left.json().listing.colour.value, 'red');

    assertError(await app.inject({ method: 'POST', url: '/v1/analyze?x=40&y=0&w=32&h=32', payload: halves, headers: { 'content-type': 'image/png' } }), 400, 'invalid_argument');
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze?x=0&y=0', payload: halves, headers: { 'content-type': 'image/png' } }), 400, 'invalid_argument');
  });

  test('bad images get their image error code and status', async () => {
    const textUpload = await multipart({}, [{ data: TEXT_FILE, type: 'text/plain', name: 'notes.txt' }]);
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze', ...textUpload }), 415, 'not_an_image');
    const raw = (data: Buffer, type = 'image/jpeg') => app.inject({ method: 'POST', url: '/v1/analyze', payload: data, headers: { 'content-type': type } });
    assertError(await raw(await truncatedJpeg()), 422, 'truncated');
    assertError(await raw(pngClaiming(30000, 30000), 'image/png'), 413, 'too_large');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>');
    assertError(await raw(svg, 'image/svg+xml'), 415, 'unsupported_format');
    const empty = await multipart({}, [{ data: Buffer.alloc(0) }]);
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze', ...empty }), 400, 'empty_file');
  });

  test('request validation: wrong content type, unknown query fields, missing image', async () => {
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze', payload: 'hello', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze?colour=red', payload: red, headers: { 'content-type': 'image/png' } }), 400, 'invalid_argument');
    const noFile = await multipart({ x: '1' });
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze', ...noFile }), 400, 'invalid_argument');
    const twoFiles = await multipart({}, [{ data: red }, { data: red }]);
    assert.match(assertError(await app.inject({ method: 'POST', url: '/v1/analyze', ...twoFiles }), 400, 'invalid_argument').message, /too many files: at most 1/);
  });

  test('a body over the 20 MB image limit is refused with 413', async () => {
    const huge = Buffer.alloc(20 * 1024 * 1024 + 1, 0);
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze', payload: huge, headers: { 'content-type': 'image/png' } }), 413, 'too_large');
    const hugeForm = await multipart({}, [{ data: huge }]);
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze', ...hugeForm }), 413, 'too_large');
  });
});

describe('products', () => {
  test('publishing needs the API key: none or a wrong one is 401', async () => {
    const none = await publish(red, { title: 'Red tee' }, {});
    assertError(none, 401, 'unauthorized');
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assertError(await publish(red, { title: 'Red tee' }, { authorization: 'Bearer wrong' }), 401, 'unauthorized');
    assertError(await publish(red, { title: 'Red tee' }, { 'x-api-key': `${TEST_KEY}x` }), 401, 'unauthorized');
    assertError(await app.inject({ method: 'DELETE', url: '/v1/products/p_x' }), 401, 'unauthorized');
  });

  test('publish, read, fetch the stored image, delete', async () => {
    const res = await publish(red, { title: '  Red tee ', description: 'cotton', price: '12.50', currency: 'eur', attributes: '{"size":"M","tags":["summer"]}' }, { 'x-api-key': TEST_KEY });
    assert.equal(res.statusCode, 201, res.body);
    const { product, listing } = res.json();
    assert.match(product.id, /^p_[A-Za-z0-9_-]{12}$/);
    assert.equal(product.title, 'Red tee');
    assert.equal(product.price, 12.5);
    assert.equal(product.currency, 'EUR');
    assert.deepEqual(product.attributes, { size: 'M', tags: ['summer'] });
    assert.equal(product.images[0].labels.colour, 'red');
    assert.equal(listing.category.value, 'T-Shirt');

    const got = await app.inject(`/v1/products/${product.id}`);
    assert.equal(got.statusCode, 200);
    assert.equal(got.json().title, 'Red tee');

    const url: string = product.images[0].url;
    assert.match(url, /^\/v1\/images\/[0-9a-f]{64}\.png$/);
    const image = await app.inject(url);
    assert.equal(image.statusCode, 200);
    assert.equal(image.headers['content-type'], 'image/png');
    assert.deepEqual(image.rawPayload, red);
    // Stored only under <data>/images with the generated name.
    const stored = await readdir(path.join(shop.dataDir, 'images'));
    assert.ok(stored.includes(url.split('/').pop()!));
    assert.deepEqual(await readFile(path.join(shop.dataDir, 'images', url.split('/').pop()!)), red);

    const deleted = await app.inject({ method: 'DELETE', url: `/v1/products/${product.id}`, headers: auth });
    assert.deepEqual(deleted.json(), { id: product.id, deleted: true });
    assertError(await app.inject(`/v1/products/${product.id}`), 404, 'not_found');
    assertError(await app.inject({ method: 'DELETE', url: `/v1/products/${product.id}`, headers: auth }), 404, 'not_found');
  });

  test('form validation: missing title, bad price, bad attributes, unknown fields', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ price: '3' }, /form\.title/],
      [{ title: 'x', price: 'cheap' }, /form\.price/],
      [{ title: 'x', currency: 'euros' }, /form\.currency/],
      [{ title: 'x', attributes: '{not json' }, /form\.attributes/],
      [{ title: 'x', attributes: '[1,2]' }, /form\.attributes/],
      [{ title: 'x', colour: 'red' }, /Unrecognized key/],
    ];
    for (const [fields, message] of cases) {
      const error = assertError(await publish(red, fields), 400, 'invalid_argument');
      assert.match(error.message, message);
    }
  });

  test('a non-image upload is refused with its image code and nothing is stored', async () => {
    const before = await readdir(path.join(shop.dataDir, 'images')).catch(() => []);
    assertError(await publish(TEXT_FILE, { title: 'Notes' }), 415, 'not_an_image');
    assert.deepEqual(await readdir(path.join(shop.dataDir, 'images')).catch(() => []), before);
  });

  test('photos are published all or none: one unreadable photo of two is refused naming it, and neither is stored', async () => {
    const products = await shop.catalog.countProducts();
    const files = await readdir(path.join(shop.dataDir, 'images')).catch(() => []);
    const body = await multipart({ title: 'Two photos' }, [{ data: red }, { data: TEXT_FILE }]);
    const error = assertError(await app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, ...auth } }), 415, 'not_an_image');
    assert.match(error.message, /: photo 2: /);
    assert.equal(await shop.catalog.countProducts(), products);
    assert.deepEqual(await readdir(path.join(shop.dataDir, 'images')).catch(() => []), files);
  });

  test('writes are refused without a configured key, unless anonymous writes are allowed', async () => {
    const closed = await shop.app({ apiKey: undefined });
    const body = await multipart({ title: 'x' }, [{ data: red }]);
    const refused = assertError(await closed.inject({ method: 'POST', url: '/v1/products', ...body }), 403, 'writes_disabled');
    assert.match(refused.message, /GROKNET_API_KEY|--allow-anonymous-writes/);

    const open = await shop.app({ apiKey: undefined, allowAnonymousWrites: true });
    const ok = await open.inject({ method: 'POST', url: '/v1/products', ...body });
    assert.equal(ok.statusCode, 201, ok.body);
    // A page on another origin may not use a visitor's browser to write.
    const foreign = await open.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, origin: 'https://evil.example' } });
    assertError(foreign, 403, 'forbidden');
    assertError(await open.inject({ method: 'DELETE', url: `/v1/products/${ok.json().product.id}`, headers: { origin: 'null' } }), 403, 'forbidden');
    await open.inject({ method: 'DELETE', url: `/v1/products/${ok.json().product.id}` });
  });
});

describe('search', () => {
  const ids: Record<string, string> = {};
  before(async () => {
    const crimson: [number, number, number] = [200, 45, 40];
    const listings = [['red', 'Red cotton tee', '10'], ['blue', 'Blue summer dress', '45'], ['yellow', 'Yellow sun hat', '15'], ['crimson', 'Crimson polo', '25']] as const;
    for (const [colour, title, price] of listings) {
      const rgb = colour === 'crimson' ? crimson : TINY_COLOURS[colour]!;
      const res = await publish(await solidImage(rgb), { title, price, currency: 'EUR' });
      assert.equal(res.statusCode, 201, res.body);
      ids[colour] = res.json().product.id;
    }
  });

  const search = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/search', payload: payload as object });

  test('words find products, with facets and reasons', async () => {
    const res = await search({ text: 'dress' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.results[0].id, ids.blue);
    assert.ok(body.results[0].why.length > 0);
    assert.match(body.results[0].image, /^\/v1\/images\//);
    assert.equal(body.query.kind, 'text');
    assert.ok(Array.isArray(body.facets.clothing));
  });

  test('words naming a label rank by it without filtering; explicit filters narrow', async () => {
    const byColour = (await search({ text: 'yellow' })).json();
    assert.deepEqual(byColour.query.filters, {});
    assert.deepEqual(byColour.query.recognised.map((r: { field: string; value: string }) => `${r.field}=${r.value}`), ['colour=yellow']);
    assert.equal(byColour.results[0].id, ids.yellow);
    assert.ok(byColour.results[0].why.some((w: string) => w.startsWith('colour=yellow')), byColour.results[0].why.join('; '));
    const filtered = (await search({ text: 'tee', filters: { colour: ['red', 'blue'], price: { lte: 20 } } })).json();
    assert.deepEqual(filtered.results.map((r: { id: string }) => r.id), [ids.red]);
  });

  test('a photo finds the same product as exact, and "more like this" excludes the product', async () => {
    const res = await search({ image: (await solidImage(TINY_COLOURS.red!)).toString('base64'), k: 3 });
    assert.equal(res.statusCode, 200, res.body);
    const top = res.json().results[0];
    assert.equal(top.id, ids.red);
    assert.equal(top.match, 'exact');
    assert.equal(res.json().query.image, true);

    const similar = await app.inject(`/v1/products/${ids.red}/similar?k=5`);
    assert.equal(similar.statusCode, 200);
    assert.ok(!similar.json().results.some((r: { id: string }) => r.id === ids.red));
    assert.equal(similar.json().results[0].id, ids.crimson, 'the other red product is the most similar');
    assert.ok(similar.json().results.every((r: { score: number }) => r.score >= 0), 'nothing unlike the product');

    const seen = await app.inject(`/v1/products/${ids.red}/seen-together`);
    assert.deepEqual(seen.json().results, []);
    assert.match(seen.json().note, /does not detect products/, 'this app has no detector');
  });

  test('validation: bad JSON, unknown fields, k out of range, two query kinds, bad base64, unknown filter', async () => {
    assertError(await app.inject({ method: 'POST', url: '/v1/search', payload: '{"text": ', headers: { 'content-type': 'application/json' } }), 400, 'invalid_argument');
    assertError(await search({ text: 'tee', colour: 'red' }), 400, 'invalid_argument');
    for (const k of [0, 101, 2.5, '5']) assertError(await search({ text: 'tee', k }), 400, 'invalid_argument');
    assertError(await search({ text: 'tee', productId: ids.red }), 400, 'invalid_argument');
    assertError(await search({ image: 'not base64 at all!' }), 400, 'invalid_argument');
    assertError(await search({ image: TEXT_FILE.toString('base64') }), 415, 'not_an_image');
    assertError(await search({ text: 'tee', filters: { material: 'wool' } }), 400, 'query_invalid');
    assertError(await search({ text: 'tee', filters: { 'Bad Name': 'x' } }), 400, 'invalid_argument');
    assertError(await app.inject('/v1/products/p_nope/similar'), 404, 'not_found');
    assertError(await app.inject(`/v1/products/${ids.red}/similar?k=1000`), 400, 'invalid_argument');
    assertError(await app.inject('/v1/products/p_nope/seen-together'), 404, 'not_found');
  });

  test('an unknown query parameter is refused, not ignored, also on routes that take none', async () => {
    const limited = await app.inject({ method: 'POST', url: '/v1/search?limit=3', payload: { text: 'tee' } });
    assert.match(assertError(limited, 400, 'invalid_argument').message, /limit/);
    assertError(await app.inject(`/v1/products/${ids.red}?fields=title`), 400, 'invalid_argument');
    assertError(await app.inject(`/v1/products/${ids.red}/similar?limit=3`), 400, 'invalid_argument');
    // Without one, the same requests answer.
    assert.equal((await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'tee' } })).statusCode, 200);
    assert.equal((await app.inject(`/v1/products/${ids.red}`)).statusCode, 200);
  });
});

describe('images', () => {
  test('only generated names under the data dir are served', async () => {
    for (const url of ['/v1/images/..%2Fcatalog.json', '/v1/images/%2Fetc%2Fpasswd', '/v1/images/catalog.json', `/v1/images/${'a'.repeat(64)}.png`, `/v1/images/${'a'.repeat(64)}.svg`]) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 404, url);
      assertNothingInternal(res.body);
    }
  });
});

describe('metrics and limits', () => {
  test('/metrics has latency histograms by route, queue depth, batch sizes and errors by code', async () => {
    const res = await app.inject('/metrics');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    assert.match(text, /groknet_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/analyze",status="200",le="0\.005"\} \d+/);
    assert.match(text, /groknet_inference_queue_depth 0/);
    assert.match(text, /groknet_inference_batch_size_count \d+/);
    assert.match(text, /groknet_http_errors_total\{code="not_an_image"\} [1-9]/);
  });

  test('the per-client rate limit answers 429 rate_limited with Retry-After', async () => {
    const limited = await shop.app({ rateLimitPerMinute: 2 });
    assert.equal((await limited.inject('/v1/products/p_x/seen-together')).statusCode, 404);
    assert.equal((await limited.inject('/v1/products/p_x/seen-together')).statusCode, 404);
    const third = await limited.inject('/v1/products/p_x/seen-together');
    assertError(third, 429, 'rate_limited');
    assert.ok(Number(third.headers['retry-after']) > 0);
    assert.equal((await limited.inject('/healthz')).statusCode, 200, 'probes are not rate limited');
  });

  test('CORS only for configured origins', async () => {
    const withCors = await shop.app({ corsOrigins: ['https://shop.example'] });
    const res = await withCors.inject({ method: 'OPTIONS', url: '/v1/search', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    assert.equal(res.headers['access-control-allow-origin'], 'https://shop.example');
    const other = await withCors.inject({ method: 'OPTIONS', url: '/v1/search', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.notEqual(other.headers['access-control-allow-origin'], 'https://evil.example');
  });
});
