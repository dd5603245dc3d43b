// Products in photos through the API, with a scripted detector over a real tiny model and
// catalog: POST /v1/analyze lists the products, POST /v1/search takes a region, publishing
// links the products seen in the photo, GET seen-together ranks them, delete removes them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Detector } from '../../src/detect/detector.ts';
import type { App } from '../../src/server/app.ts';
import { TEXT_FILE } from '../helpers/bad-images.ts';
import { scenePhoto, scriptedDetector, type Block, type ScriptedBox } from '../helpers/scripted-detector.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError, multipart } from './helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from './helpers/server.ts';
import { createShopModel } from './helpers/shop-model.ts';

const auth = { authorization: `Bearer ${TEST_KEY}` };

// Photos are told apart by width. The outfit (300x200) shows a dress (blue), a hat (yellow)
// and green trousers nobody sells; the second outfit (320x200) the dress and the hat again.
const OUTFIT: Block[] = [
  { rgb: TINY_COLOURS.blue!, at: [0.05, 0.1, 0.3, 0.8] },
  { rgb: TINY_COLOURS.yellow!, at: [0.45, 0.1, 0.2, 0.3] },
  { rgb: TINY_COLOURS.green!, at: [0.7, 0.4, 0.25, 0.5] },
];
const OUTFIT_2: Block[] = [
  { rgb: TINY_COLOURS.yellow!, at: [0.1, 0.1, 0.3, 0.3] },
  { rgb: TINY_COLOURS.blue!, at: [0.5, 0.2, 0.4, 0.7] },
];
const CLASSES = ['person', 'handbag', 'suitcase'] as const;

/** Boxes well inside each block (the crop margin stays inside it), one class each. */
function inside(blocks: readonly Block[]): ScriptedBox[] {
  return blocks.map(({ at: [x, y, w, h] }, i) => ({ at: [x + w * 0.15, y + h * 0.15, w * 0.7, h * 0.7], cls: CLASSES[i]!, score: 0.9 - i * 0.1 }));
}

function script(width: number): ScriptedBox[] {
  if (width === 300) return inside(OUTFIT);
  if (width === 320) return inside(OUTFIT_2);
  // A plain product photo: the product fills the frame.
  return [{ at: [0.1, 0.1, 0.8, 0.8], cls: 'handbag', score: 0.8 }];
}

let shop: TestShop;
let app: App;
let detector: Detector & { calls: number };
let outfit: Buffer;
let outfit2: Buffer;

before(async () => {
  const { dir } = await createShopModel();
  shop = await openTestShop(dir);
  detector = scriptedDetector((image) => script(image.width));
  app = await shop.app({}, { detector });
  outfit = await scenePhoto(300, 200, OUTFIT);
  outfit2 = await scenePhoto(320, 200, OUTFIT_2);
});
after(async () => shop?.close());

async function publish(target: App, image: Buffer, title: string) {
  const body = await multipart({ title, price: '10', currency: 'EUR' }, [{ data: image }]);
  return target.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, ...auth } });
}

const analyze = (target: App, image: Buffer, query = '') =>
  target.inject({ method: 'POST', url: `/v1/analyze${query}`, payload: image, headers: { 'content-type': 'image/png' } });

interface ProductJson {
  box: number[];
  class: string;
  vertical: string | null;
  score: number;
  analysis: { heads: Record<string, { top: Array<{ label: string }> }>; code: string; embedding?: number[] };
}

test('the OpenAPI document describes detected products, regions in search and seen-together items', async () => {
  const doc = (await app.inject('/openapi.json')).json() as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
  for (const id of ['DetectedProduct', 'SeenTogether', 'SeenTogetherItem']) assert.ok(doc.components.schemas[id], `component ${id}`);
  assert.ok(doc.components.schemas.SearchRequest!.properties!.region, 'search body has a region');
  assert.ok(doc.components.schemas.CreatedProduct!.properties!.seenWith, 'publishing tells what was seen with the product');
});

describe('POST /v1/analyze with a detector', () => {
  test('lists the products in the photo: box in its pixels, class, vertical, score, heads and code', async () => {
    const res = await analyze(app, outfit);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { products: ProductJson[]; detector: string };
    assert.equal(body.detector, 'centernet');
    assert.deepEqual(body.products.map((p) => [p.class, p.vertical, p.analysis.heads.colour!.top[0]!.label, p.analysis.heads.clothing!.top[0]!.label]), [
      ['person', null, 'blue', 'Dress'],
      ['handbag', 'fashion', 'yellow', 'Hat'],
      ['suitcase', 'fashion', 'green', 'Pants'],
    ]);
    // The dress block is x 15-105, y 20-180: the scripted box is 15% inside it.
    assert.deepEqual(body.products[0]!.box, [28.5, 44, 63, 112]);
    assert.deepEqual(body.products.map((p) => p.score), [0.9, 0.8, 0.7]);
    for (const p of body.products) {
      assert.match(p.analysis.code, /^[0-9a-f]{4}$/);
      assert.equal(p.analysis.embedding, undefined, 'embeddings only on request');
    }
    const withEmbedding = (await analyze(app, outfit, '?embedding=true')).json() as { products: ProductJson[] };
    assert.equal(withEmbedding.products[0]!.analysis.embedding!.length, 16);
  });

  test('a region narrows the analysis, not the detection; detect=false skips detection', async () => {
    const region = await analyze(app, outfit, '?x=135&y=20&w=60&h=60');
    assert.equal(region.statusCode, 200, region.body);
    assert.equal(region.json().listing.colour.value, 'yellow');
    assert.equal(region.json().products.length, 3, 'boxes still refer to the whole photo');

    const calls = detector.calls;
    const off = await analyze(app, outfit, '?detect=false');
    assert.deepEqual([off.json().products, off.json().detector], [[], null]);
    assert.equal(detector.calls, calls, 'the detector was not asked');
    assertError(await analyze(app, outfit, '?detect=maybe'), 400, 'invalid_argument');
  });

  test('bad photos keep their image error', async () => {
    assertError(await app.inject({ method: 'POST', url: '/v1/analyze', payload: TEXT_FILE, headers: { 'content-type': 'image/png' } }), 415, 'not_an_image');
  });
});

describe('publishing links the products seen together', () => {
  const ids: Record<string, string> = {};

  test('plain product photos link nothing; the outfit links the dress and the hat', async () => {
    for (const [name, colour] of [['dress', 'blue'], ['hat', 'yellow'], ['tee', 'red']] as const) {
      const res = await publish(app, await solidImage(TINY_COLOURS[colour]!), `Cotton ${name}`);
      assert.equal(res.statusCode, 201, res.body);
      ids[name] = res.json().product.id;
      assert.deepEqual(res.json().seenWith, [], 'a photo of the product alone shows only itself');
    }
    const res = await publish(app, outfit, 'Summer outfit');
    assert.equal(res.statusCode, 201, res.body);
    ids.outfit = res.json().product.id;
    assert.deepEqual([...res.json().seenWith].sort(), [ids.dress, ids.hat].sort(), 'the green trousers are in no listing');

    const seen = await app.inject(`/v1/products/${ids.outfit}/seen-together`);
    assert.equal(seen.statusCode, 200, seen.body);
    const body = seen.json() as { productId: string; results: Array<{ id: string; title: string; image: string; count: number; lastSeen: string; price: number }>; note?: string };
    assert.equal(body.note, undefined);
    assert.deepEqual(body.results.map((r) => [r.title, r.count]).sort(), [['Cotton dress', 1], ['Cotton hat', 1]]);
    for (const r of body.results) {
      assert.match(r.image, /^\/v1\/images\/[0-9a-f]{64}\.png$/);
      assert.ok(!Number.isNaN(Date.parse(r.lastSeen)));
      assert.equal(r.price, 10);
    }
    assert.deepEqual((await app.inject(`/v1/products/${ids.tee}/seen-together`)).json().results, []);
  });

  test('links are counted in photos and ranked; k limits; deleting a product removes its links', async () => {
    const second = await publish(app, outfit2, 'Beach outfit');
    assert.equal(second.statusCode, 201, second.body);
    ids.outfit2 = second.json().product.id;

    const around = async (id: string, k = 12) => ((await app.inject(`/v1/products/${id}/seen-together?k=${k}`)).json() as { results: Array<{ id: string; count: number }> }).results;
    const dress = await around(ids.dress!);
    assert.deepEqual(dress[0], { ...dress[0], id: ids.hat, count: 2 }, 'the hat was in both outfit photos');
    assert.deepEqual(dress.slice(1).map((r) => [r.id, r.count]).sort(), [[ids.outfit, 1], [ids.outfit2, 1]].sort());
    assert.deepEqual((await around(ids.dress!, 1)).map((r) => r.id), [ids.hat]);

    const deleted = await app.inject({ method: 'DELETE', url: `/v1/products/${ids.outfit}`, headers: auth });
    assert.equal(deleted.statusCode, 200, deleted.body);
    assert.deepEqual((await around(ids.dress!)).map((r) => [r.id, r.count]).sort(), [[ids.hat, 1], [ids.outfit2, 1]].sort());
    assert.equal((await around(ids.dress!)).find((r) => r.id === ids.outfit), undefined);
    assert.equal((await around(ids.hat!)).find((r) => r.id === ids.dress)?.count, 1, 'the first outfit photo is gone with its product');
    assertError(await app.inject(`/v1/products/${ids.outfit}/seen-together`), 404, 'not_found');
    assertError(await app.inject(`/v1/products/${ids.dress}/seen-together?k=0`), 400, 'invalid_argument');
  });

  test('search by a region of a photo finds the product in it', async () => {
    const search = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/search', payload: body });
    const image = outfit.toString('base64');
    const res = await search({ image, region: { x: 135, y: 20, w: 60, h: 60 }, k: 3 });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().results[0].id, ids.hat);
    assert.equal(res.json().results[0].match, 'exact');
    assert.deepEqual(res.json().query.region, { x: 135, y: 20, w: 60, h: 60 });
    assert.equal((await search({ image, k: 3 })).json().query.region, null);

    assertError(await search({ text: 'hat', region: { x: 0, y: 0, w: 10, h: 10 } }), 400, 'invalid_argument');
    assertError(await search({ image, region: { x: 290, y: 0, w: 20, h: 10 } }), 400, 'invalid_argument');
    assertError(await search({ image, region: { x: 0, y: 0, w: 0, h: 10 } }), 400, 'invalid_argument');
  });
});

describe('the detector is opened on first use', () => {
  test('not at start; a failed open is retried later and never fails a publish; the app closes what it opened', async () => {
    let opened = 0;
    let closed = 0;
    const ready = scriptedDetector((image) => script(image.width));
    const owned: Detector = { ...ready, detect: (image, options) => ready.detect(image, options), close: async () => void closed++ };
    const lazy = await shop.app({}, {
      detector: async () => {
        opened++;
        if (opened === 1) throw new Error('conversion failed');
        return owned;
      },
    });
    assert.equal(opened, 0, 'building the app opens nothing');
    const detectorCheck = async () => ((await lazy.inject('/readyz')).json() as { checks: { detector: string } }).checks.detector;
    assert.equal(await detectorCheck(), 'not_loaded');

    const published = await publish(lazy, outfit2, 'Published while the detector is broken');
    assert.equal(published.statusCode, 201, published.body);
    assert.equal(published.json().seenWith, null);
    assert.equal(opened, 1);
    assert.equal(await detectorCheck(), 'failing', '/readyz reports the failed open, and stays ready');
    assert.equal((await lazy.inject('/readyz')).statusCode, 200);

    const res = await analyze(lazy, outfit);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().products.length, 3);
    await analyze(lazy, outfit);
    assert.equal(opened, 2, 'opened again after the failure, then kept');
    assert.equal(await detectorCheck(), 'ok');
    await lazy.close();
    assert.equal(closed, 1);

    // A detector handed over ready stays its owner's.
    let readyClosed = 0;
    const given = await shop.app({}, { detector: { ...ready, detect: (image, options) => ready.detect(image, options), close: async () => void readyClosed++ } });
    await analyze(given, outfit);
    await given.close();
    assert.equal(readyClosed, 0);
  });

  test('a detector that cannot be opened makes analyze answer 503 unavailable', async () => {
    const broken = await shop.app({}, { detector: async () => Promise.reject(new Error('no model')) });
    assertError(await analyze(broken, outfit), 503, 'unavailable');
    assert.equal((await analyze(broken, outfit, '?detect=false')).statusCode, 200, 'without detection it still answers');
  });

  test('without a detector: no products, and seen-together says why it stays empty', async () => {
    const plain = await shop.app();
    const res = await analyze(plain, outfit);
    assert.deepEqual([res.json().products, res.json().detector], [[], null]);
    const [first] = await shop.catalog.listProducts({ limit: 1 });
    const seen = await plain.inject(`/v1/products/${first!.id}/seen-together`);
    assert.match(seen.json().note, /does not detect products/);
  });
});
