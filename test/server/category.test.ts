// The seller's category through the HTTP API: the `category` form field of POST /v1/products,
// shown by GET /v1/products/:id, filtered (`{"filters":{"category":"Sofas"}}`) and counted in
// the search facets; a bad category is a 400 naming the form field; OpenAPI describes it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { App } from '../../src/server/app.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError, multipart } from './helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from './helpers/server.ts';
import { createShopModel } from './helpers/shop-model.ts';

let shop: TestShop;
let app: App;
const auth = { authorization: `Bearer ${TEST_KEY}` };

before(async () => {
  const { dir } = await createShopModel();
  shop = await openTestShop(dir);
  app = await shop.app();
});
after(async () => shop?.close());

async function publish(colour: string, fields: Record<string, string>) {
  const body = await multipart(fields, [{ data: await solidImage(TINY_COLOURS[colour]!) }]);
  return app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, ...auth } });
}
const search = (payload: object) => app.inject({ method: 'POST', url: '/v1/search', payload });

describe('a category on POST /v1/products', () => {
  const ids: Record<string, string> = {};
  before(async () => {
    for (const [id, colour, category] of [['sofa-red', 'red', ' Sofas '], ['sofa-blue', 'blue', 'Sofas'], ['chair-yellow', 'yellow', 'Chairs'], ['lamp', 'blue', '']] as const) {
      const res = await publish(colour, { id, title: `${colour} ${id.split('-')[0]}`, category });
      assert.equal(res.statusCode, 201, res.body);
      ids[id] = res.json().product.id;
    }
  });

  test('is stored trimmed and shown by GET /v1/products/:id; blank is no category', async () => {
    const sofa = (await app.inject('/v1/products/sofa-red')).json();
    assert.equal(sofa.category, 'Sofas');
    assert.deepEqual(sofa.attributes, {}, 'a field of its own, not an attribute');
    assert.equal((await app.inject('/v1/products/lamp')).json().category, null);
  });

  test('filters searches exactly and is counted in the facets', async () => {
    const res = await search({ text: '', filters: { category: 'Sofas' } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.results.map((r: { id: string }) => r.id).sort(), ['sofa-blue', 'sofa-red']);
    assert.deepEqual(body.facets.category, [{ value: 'Sofas', count: 2 }]);

    const several = (await search({ text: '', filters: { category: ['Sofas', 'Chairs'] } })).json();
    assert.deepEqual(several.results.map((r: { id: string }) => r.id).sort(), ['chair-yellow', 'sofa-blue', 'sofa-red']);
    assert.deepEqual(several.facets.category, [{ value: 'Sofas', count: 2 }, { value: 'Chairs', count: 1 }]);
  });

  test('a bad category is a 400 naming the form field, and nothing is published', async () => {
    for (const category of ['x'.repeat(201), 'a\u0007b']) {
      const error = assertError(await publish('red', { id: 'bad', title: 'Bad', category }), 400, 'invalid_argument');
      assert.match(error.message, /form\.category/);
    }
    assertError(await app.inject('/v1/products/bad'), 404, 'not_found');
    // A category filter takes text.
    assertError(await search({ text: '', filters: { category: { gte: 1 } } }), 400, 'query_invalid');
  });

  test('OpenAPI describes the form field and the product field', async () => {
    const doc = (await app.inject('/openapi.json')).json();
    const form = doc.paths['/v1/products'].post.requestBody.content['multipart/form-data'].schema;
    assert.equal(form.properties.category.type, 'string');
    assert.match(form.properties.category.description, /category/i);
    const product = doc.components.schemas.Product;
    assert.ok(product.properties.category, JSON.stringify(Object.keys(product.properties)));
    assert.ok(product.required.includes('category'));
  });
});
