// Publishing safely twice (issue #24): a client's own product id, and the Idempotency-Key
// header (one product for any number of repeats, concurrent or after the fact, also after
// a restart; another request under a used key refused). Over a real tiny model and a real
// LanceDB catalog; the key store's expiry and journal with a fake clock.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { GroknetError } from '../../src/errors.ts';
import type { App } from '../../src/server/app.ts';
import { IDEMPOTENCY_TTL_MS, IdempotencyKeys } from '../../src/server/idempotency.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError, multipart } from './helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from './helpers/server.ts';
import { createShopModel } from './helpers/shop-model.ts';

let shop: TestShop;
let app: App;
const auth = { authorization: `Bearer ${TEST_KEY}` };

before(async () => {
  shop = await openTestShop((await createShopModel()).dir);
  app = await shop.app();
});
after(async () => shop?.close());

/** A fresh multipart body each time (its own boundary), as a retrying client would send. */
async function publish(image: Buffer, fields: Record<string, string>, headers: Record<string, string> = {}, on: App = app, url = '/v1/products') {
  const body = await multipart(fields, [{ data: image }]);
  return on.inject({ method: 'POST', url, payload: body.payload, headers: { ...body.headers, ...auth, ...headers } });
}

const count = async () => (await shop.catalog.listProducts({ limit: 1000 })).length;

describe('Idempotency-Key', () => {
  let red: Buffer;
  let first: { id: string; body: unknown };
  before(async () => {
    red = await solidImage(TINY_COLOURS.red!);
  });

  test('12 identical concurrent publishes with one key make one product; the others wait and get its answer', async () => {
    const before = await count();
    const key = { 'idempotency-key': 'order-7f3c-0001' };
    const answers = await Promise.all(Array.from({ length: 12 }, () => publish(red, { title: 'Red tee', price: '9.90' }, key)));
    for (const res of answers) assert.equal(res.statusCode, 201, res.body);
    const ids = new Set(answers.map((res) => res.json().product.id as string));
    assert.equal(ids.size, 1, `one product id for all, got ${[...ids].join(', ')}`);
    assert.equal(await count(), before + 1);
    const replayed = answers.filter((res) => res.headers['idempotent-replayed'] === 'true');
    assert.equal(replayed.length, 11, 'all but the first are replays');
    const original = answers.find((res) => res.headers['idempotent-replayed'] === undefined)!;
    for (const res of replayed) assert.deepEqual(res.json(), original.json());
    first = { id: [...ids][0]!, body: original.json() };
  });

  test('a retry after success answers the same (product, status, body) without publishing again', async () => {
    const before = await count();
    const res = await publish(red, { title: 'Red tee', price: '9.90' }, { 'idempotency-key': 'order-7f3c-0001' });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['idempotent-replayed'], 'true');
    assert.deepEqual(res.json(), first.body);
    assert.equal(await count(), before);
  });

  test('the same key with a different request is 422 idempotency_mismatch, and nothing is published', async () => {
    const before = await count();
    const key = { 'idempotency-key': 'order-7f3c-0001' };
    const other = [
      await publish(red, { title: 'Red tee', price: '10.90' }, key),
      await publish(red, { title: 'Red tee', price: '9.90', description: 'cotton' }, key),
      await publish(await solidImage(TINY_COLOURS.blue!), { title: 'Red tee', price: '9.90' }, key),
    ];
    for (const res of other) {
      const error = assertError(res, 422, 'idempotency_mismatch');
      assert.match(error.message, /Idempotency-Key was already used with a different request/);
    }
    assert.equal(await count(), before);
  });

  test('a failed publish does not hold its key: the corrected request goes through', async () => {
    const key = { 'idempotency-key': 'order-7f3c-0002' };
    const notAnImage = Buffer.from('not an image at all');
    assertError(await publish(notAnImage, { title: 'Oops' }, key), 415, 'not_an_image');
    const res = await publish(await solidImage([30, 200, 40]), { title: 'Green thing' }, key);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['idempotent-replayed'], undefined);
  });

  test('keys survive a restart: a new server over the same data answers the retry', async () => {
    const restarted = await shop.app();
    const before = await count();
    const res = await publish(red, { title: 'Red tee', price: '9.90' }, { 'idempotency-key': 'order-7f3c-0001' }, restarted);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['idempotent-replayed'], 'true');
    assert.equal(res.json().product.id, first.id);
    assert.equal(await count(), before);
    const journal = await readFile(path.join(shop.dataDir, 'idempotency-keys.jsonl'), 'utf8');
    assert.match(journal, /order-7f3c-0001/);
  });

  test('a bad key is 400 naming the header; the OpenAPI document describes it', async () => {
    for (const bad of ['has spaces in it', 'k'.repeat(256), 'ключ']) {
      const error = assertError(await publish(red, { title: 'x' }, { 'idempotency-key': bad }), 400, 'invalid_argument');
      assert.match(error.message, /headers\.idempotency-key/);
      assert.deepEqual(error.issues?.map((issue) => [issue.in, issue.path]), [['headers', ['idempotency-key']]]);
    }
    const doc = (await app.inject('/openapi.json')).json();
    const post = doc.paths['/v1/products'].post;
    const header = post.parameters.find((p: { in: string; name: string }) => p.in === 'header' && p.name === 'idempotency-key');
    assert.ok(header, 'Idempotency-Key is a documented header');
    assert.match(header.description, /24 h/);
    assert.match(header.description, /restart/);
    assert.ok(post.requestBody.content['multipart/form-data'].schema.properties.id, 'the id field is documented');
    assert.ok(post.responses['200'] && post.responses['201']);
  });

  test('a page on an allowed origin may send the key and read the replay header (CORS)', async () => {
    const withCors = await shop.app({ corsOrigins: ['https://shop.example'] });
    const preflight = await withCors.inject({
      method: 'OPTIONS',
      url: '/v1/products',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, idempotency-key' },
    });
    assert.match(String(preflight.headers['access-control-allow-headers']), /idempotency-key/);
    const res = await publish(await solidImage(TINY_COLOURS.red!), { title: 'Red tee', price: '9.90' }, { 'idempotency-key': 'order-7f3c-0001', origin: 'https://shop.example' }, withCors);
    assert.equal(res.headers['idempotent-replayed'], 'true', res.body);
    assert.match(String(res.headers['access-control-expose-headers']), /idempotent-replayed/);
  });
});

describe("a client's own product id", () => {
  test('is kept, and publishing it again replaces the product (200, replaced) and drops the old photo', async () => {
    const id = 'sku 42 — Größe M';
    const before = await count();
    const orange = await solidImage([250, 140, 20]);
    const created = await publish(orange, { id, title: 'Orange tee' });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().product.id, id);
    assert.equal(created.json().replaced, false);
    const url = `/v1/products/${encodeURIComponent(id)}`;
    assert.equal((await app.inject(url)).json().title, 'Orange tee');
    const oldName = String(created.json().product.images[0].url).split('/').pop()!;

    const replaced = await publish(await solidImage(TINY_COLOURS.blue!, 40), { id, title: 'Blue dress' });
    assert.equal(replaced.statusCode, 200, replaced.body);
    assert.equal(replaced.json().replaced, true);
    assert.equal(replaced.json().product.images[0].labels.colour, 'blue');
    assert.equal((await app.inject(url)).json().title, 'Blue dress');
    assert.equal(await count(), before + 1);
    assert.ok(!(await readdir(path.join(shop.dataDir, 'images'))).includes(oldName), "the replaced product's photo is removed");
    await app.inject({ method: 'DELETE', url, headers: auth });
  });

  test('an id breaking the catalog rules is 400 naming the field', async () => {
    const red = await solidImage(TINY_COLOURS.red!);
    const before = await count();
    for (const [id, message] of [
      ['a'.repeat(257), /form\.id: at most 256 characters/],
      ['line\nbreak', /form\.id: id has control characters/],
      ['nul\u0000', /form\.id: id has control characters/],
    ] as const) {
      const error = assertError(await publish(red, { id, title: 'x' }), 400, 'invalid_argument');
      assert.match(error.message, message);
      assert.deepEqual(error.issues?.map((issue) => [issue.in, issue.path]), [['form', ['id']]]);
    }
    assert.equal(await count(), before);
  });
});

describe('IdempotencyKeys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-idempotency-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const Value = z.object({ n: z.number() });

  test('a key runs again after its 24 hours; a failure frees the key', async () => {
    let now = 1_000_000;
    const keys = new IdempotencyKeys({ file: undefined, valueSchema: Value, now: () => now });
    let runs = 0;
    const work = async () => ({ n: ++runs });
    assert.deepEqual(await keys.run('k', 'f', work), { value: { n: 1 }, replayed: false });
    now += IDEMPOTENCY_TTL_MS - 1;
    assert.deepEqual(await keys.run('k', 'f', work), { value: { n: 1 }, replayed: true });
    await assert.rejects(keys.run('k', 'other', work), (e: unknown) => e instanceof GroknetError && e.code === 'idempotency_mismatch');
    now += 2;
    assert.deepEqual(await keys.run('k', 'other', work), { value: { n: 2 }, replayed: false });
    await assert.rejects(keys.run('failing', 'f', async () => Promise.reject(new GroknetError('overloaded'))));
    assert.deepEqual(await keys.run('failing', 'f', work), { value: { n: 3 }, replayed: false });
  });

  test('the journal skips cut, foreign and expired lines, and is rewritten without them', async () => {
    const file = path.join(dir, 'keys.jsonl');
    const now = 5 * IDEMPOTENCY_TTL_MS;
    const lines = [
      JSON.stringify({ key: 'live', fingerprint: 'f', at: now - 1000, value: { n: 7 } }),
      JSON.stringify({ key: 'old', fingerprint: 'f', at: now - IDEMPOTENCY_TTL_MS - 1, value: { n: 8 } }),
      JSON.stringify({ key: 'foreign', fingerprint: 'f', at: now, value: { other: true } }),
      '{"key":"cut","fingerpr',
    ];
    await writeFile(file, `${lines.join('\n')}\n`);
    const keys = new IdempotencyKeys({ file, valueSchema: Value, now: () => now });
    const never = async (): Promise<{ n: number }> => assert.fail('a kept key must not run again');
    assert.deepEqual(await keys.run('live', 'f', never), { value: { n: 7 }, replayed: true });
    assert.deepEqual(await keys.run('old', 'f', async () => ({ n: 9 })), { value: { n: 9 }, replayed: false });
    const kept = (await readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line).key);
    assert.deepEqual(kept, ['live', 'old']);
  });
});
