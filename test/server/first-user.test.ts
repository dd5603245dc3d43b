// A first user's rough edges in the API (issue #24): ids as long as the catalog's on every
// product route, error messages that say what is wrong (too many files, a long field, a
// forbidden JSON key, the wrong content type for search) with each bad field's path, and a
// favicon. Over a real tiny model and a real LanceDB catalog.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { sha256 } from '../../src/catalog/hash.ts';
import { GroknetError } from '../../src/errors.ts';
import type { App } from '../../src/server/app.ts';
import { FAVICON_SVG } from '../../src/server/favicon.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError, multipart } from './helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from './helpers/server.ts';
import { createShopModel } from './helpers/shop-model.ts';

let shop: TestShop;
let app: App;
let red: Buffer;
const auth = { authorization: `Bearer ${TEST_KEY}` };

before(async () => {
  shop = await openTestShop((await createShopModel()).dir);
  app = await shop.app();
  red = await solidImage(TINY_COLOURS.red!);
});
after(async () => shop?.close());

async function post(url: string, fields: Record<string, string>, files: Buffer[]) {
  const body = await multipart(fields, files.map((data) => ({ data })));
  return app.inject({ method: 'POST', url, payload: body.payload, headers: { ...body.headers, ...auth } });
}

/** A product written straight to the catalog, as `groknet index` writes one named after its file. */
async function indexed(id: string, photo: Buffer): Promise<void> {
  const [analysis] = await shop.analyzer.analyzeBuffers([photo]);
  if (!analysis || analysis instanceof GroknetError) throw analysis ?? new Error('no analysis');
  await shop.catalog.insertProducts([{ id, title: 'Long id', images: [{ path: path.join(shop.dataDir, 'listings', 'photo.png'), contentHash: sha256(photo), analysis }] }]);
}

const json = (url: string, payload: string) => app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });

describe('ids up to the catalog limit on every product route', () => {
  const ids = {
    long: `${'long-file-name-'.repeat(13)}end`.padEnd(200, 'x'),
    // Spaces, a percent, a question mark, a hash, a slash (a CSV id may have one) and umlauts.
    encoded: `Sommerkleid Größe M 100% Baumwolle? #42 a/b+c ${'ä'.repeat(150)}`,
  };

  for (const [kind, id] of Object.entries(ids)) {
    test(`a ${id.length}-character id (${kind}) works with GET, similar, seen-together and DELETE`, async () => {
      assert.ok(id.length > 100 && id.length <= 256);
      await indexed(id, red);
      const url = `/v1/products/${encodeURIComponent(id)}`;
      const got = await app.inject(url);
      assert.equal(got.statusCode, 200, got.body);
      assert.equal(got.json().id, id);
      const similar = await app.inject(`${url}/similar`);
      assert.equal(similar.statusCode, 200, similar.body);
      assert.equal(similar.json().productId, id);
      const seen = await app.inject(`${url}/seen-together`);
      assert.equal(seen.statusCode, 200, seen.body);
      assert.equal(seen.json().productId, id);
      const deleted = await app.inject({ method: 'DELETE', url, headers: auth });
      assert.deepEqual(deleted.json(), { id, deleted: true });
    });
  }

  test('an id over 256 characters is a 400 naming the limit', async () => {
    for (const id of ['a'.repeat(257), 'ä'.repeat(300), 'b'.repeat(5000)]) {
      const url = `/v1/products/${encodeURIComponent(id)}`;
      for (const request of [{ url }, { url: `${url}/similar` }, { url: `${url}/seen-together` }, { method: 'DELETE' as const, url, headers: auth }]) {
        const error = assertError(await app.inject(request), 400, 'invalid_argument');
        // The route names the field; past what the router matches at all, the message still names the limit.
        assert.match(error.message, id.length < 1000 ? /params\.id: at most 256 characters/ : /product ids are at most 256 characters/, request.url.slice(0, 40));
        if (id.length < 1000) assert.deepEqual(error.issues?.map((issue) => [issue.in, issue.path]), [['params', ['id']]]);
      }
    }
  });
});

describe('error messages say what is wrong', () => {
  test('too many photos is 400 "too many files: at most N", not an image-size message', async () => {
    const cases: Array<[string, number, number]> = [
      ['/v1/analyze', 2, 1],
      ['/v1/analyze', 9, 1],
      ['/v1/products', 9, 8],
    ];
    for (const [url, files, limit] of cases) {
      const error = assertError(await post(url, { title: 'many' }, Array.from({ length: files }, () => red)), 400, 'invalid_argument');
      assert.match(error.message, new RegExp(`too many files: at most ${limit}$`), `${files} files to ${url}`);
      assert.doesNotMatch(error.message, /image is larger/);
    }
    const fields = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, 'x']));
    assert.match(assertError(await post('/v1/products', { title: 'x', ...fields }, [red]), 400, 'invalid_argument').message, /too many fields: at most 20/);
  });

  test('a field over its limit is 400 naming the field and its limit, with the path in issues', async () => {
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [{ title: 't'.repeat(100 * 1024) }, 'title', /form\.title: .*<=200 characters/],
      [{ title: 't'.repeat(300) }, 'title', /form\.title: .*<=200 characters/],
      [{ title: 'x', description: 'd'.repeat(70 * 1024) }, 'description', /form\.description: .*<=5000 characters/],
      [{ title: 'x', attributes: `{"a":"${'v'.repeat(70 * 1024)}"}` }, 'attributes', /form\.attributes: longer than 65536 bytes/],
    ];
    for (const [fields, field, message] of cases) {
      const error = assertError(await post('/v1/products', fields, [red]), 400, 'invalid_argument');
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /image/);
      assert.deepEqual(error.issues?.map((issue) => [issue.in, issue.path]), [['form', [field]]]);
    }
  });

  test('a __proto__ (or constructor.prototype) key in a search body is 400 naming the key, not "not valid JSON"', async () => {
    const proto = assertError(await json('/v1/search', '{"text":"tee","filters":{"__proto__":{"eq":"x"}}}'), 400, 'invalid_argument');
    assert.match(proto.message, /body\.filters\.__proto__: __proto__ is not allowed as a key/);
    assert.doesNotMatch(proto.message, /not valid JSON/);
    assert.deepEqual(proto.issues, [{ in: 'body', path: ['filters', '__proto__'], message: '__proto__ is not allowed as a key' }]);
    const ctor = assertError(await json('/v1/search', '{"filters":{"constructor":{"prototype":{"x":1}}}}'), 400, 'invalid_argument');
    assert.deepEqual(ctor.issues?.[0]?.path, ['filters', 'constructor', 'prototype']);
    // Broken JSON is still called that.
    assert.match(assertError(await json('/v1/search', '{"text": '), 400, 'invalid_argument').message, /the body is not valid JSON/);
  });

  test('a form or a raw photo sent to search is 415 saying search takes JSON with a base64 image', async () => {
    const form = await multipart({ text: 'tee' }, [{ data: red }]);
    const requests = [
      { payload: form.payload, headers: form.headers },
      { payload: red, headers: { 'content-type': 'image/png' } },
      { payload: 'tee', headers: { 'content-type': 'text/plain' } },
    ];
    for (const request of requests) {
      const error = assertError(await app.inject({ method: 'POST', url: '/v1/search', ...request }), 415, 'unsupported_media_type');
      assert.match(error.message, /search takes a JSON body/);
      assert.match(error.message, /"image" field, base64/);
      assert.doesNotMatch(error.message, /expected object/);
    }
  });

  test('schema validation errors carry each bad field as issues; the OpenAPI Error schema has them', async () => {
    const error = assertError(await json('/v1/search', JSON.stringify({ text: 'tee', k: 0 })), 400, 'invalid_argument');
    assert.match(error.message, /body\.k: /);
    assert.deepEqual(error.issues?.map((issue) => [issue.in, issue.path]), [['body', ['k']]]);
    const doc = (await app.inject('/openapi.json')).json();
    const schema = doc.components.schemas.Error.properties.error;
    assert.ok(schema.properties.issues, 'issues documented');
    assert.deepEqual(schema.required.sort(), ['code', 'message']);
  });
});

describe('favicon', () => {
  test('GET /favicon.ico is an icon rendered from web/public/favicon.svg', async () => {
    const res = await app.inject('/favicon.ico');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'image/x-icon');
    const ico = res.rawPayload;
    assert.deepEqual([...ico.subarray(0, 4)], [0, 0, 1, 0], 'an ICO header');
    const count = ico.readUInt16LE(4);
    assert.ok(count >= 1);
    for (let i = 0; i < count; i++) {
      const size = ico.readUInt8(6 + 16 * i);
      const length = ico.readUInt32LE(6 + 16 * i + 8);
      const offset = ico.readUInt32LE(6 + 16 * i + 12);
      const meta = await sharp(ico.subarray(offset, offset + length)).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', size, size]);
    }
    assert.match(await readFile(FAVICON_SVG, 'utf8'), /^<svg /);
    assert.equal((await app.inject({ method: 'HEAD', url: '/favicon.ico' })).statusCode, 200);
  });
});
