// Garments through the API, with a scripted segmenter over a real tiny model and catalog:
// POST /v1/shop-the-look (each garment of an outfit photo with the catalog products like
// it, optionally of its colour), POST /v1/analyze?garments=true, and the failures: no
// segmenter or one that cannot be opened (503), bad photos, bad options (400), a busy
// segmenter (429) and one that does not get to a photo in time (504).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import type { PhotoSegmenter } from '../../src/pipelines/shop-the-look.ts';
import type { App } from '../../src/server/app.ts';
import { TEXT_FILE, truncatedJpeg } from '../helpers/bad-images.ts';
import { scenePhoto, type Block, type Fractions } from '../helpers/scripted-detector.ts';
import { scriptedSegmenter, type ScriptedGarment, type ScriptedSegmenter } from '../helpers/scripted-segmenter.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError, multipart } from './helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from './helpers/server.ts';
import { createShopModel } from './helpers/shop-model.ts';

const auth = { authorization: `Bearer ${TEST_KEY}` };

// The outfit (300x200, told apart by its width): a red tee and a larger blue dress.
const TEE: Block = { rgb: TINY_COLOURS.red!, at: [0.05, 0.3, 0.3, 0.4] };
const DRESS: Block = { rgb: TINY_COLOURS.blue!, at: [0.5, 0.1, 0.4, 0.8] };

/** A mask well inside the block: its box then holds the block's colour alone. */
function inside({ at: [x, y, w, h] }: Block): Fractions {
  return [x + w * 0.1, y + h * 0.1, w * 0.8, h * 0.8];
}

// A second photo (310 px wide): an orange bag, a colour the catalog has no product of.
const BAG: Block = { rgb: [240, 130, 30], at: [0.3, 0.2, 0.4, 0.6] };

const OUTFIT_GARMENTS: ScriptedGarment[] = [
  { label: 't-shirt', at: inside(TEE) },
  { label: 'dress', at: inside(DRESS) },
  { label: 'skin', at: [0.4, 0, 0.05, 0.1] },
];

let shop: TestShop;
let app: App;
let segmenter: ScriptedSegmenter;
let outfit: Buffer;
let plain: Buffer;
let orangeBag: Buffer;
const ids = new Map<string, string>();

before(async () => {
  const { dir } = await createShopModel();
  shop = await openTestShop(dir);
  // Plain product photos show no garments (a segmenter sees none on a flat colour).
  segmenter = scriptedSegmenter((image) => (image.width === 300 ? OUTFIT_GARMENTS : image.width === 310 ? [{ label: 'bag', at: inside(BAG) }] : []));
  app = await shop.app({}, { segmenter });
  for (const [colour, title] of [['red', 'Cotton tee'], ['blue', 'Cotton dress'], ['yellow', 'Sun hat'], ['green', 'Chinos']] as const) {
    const body = await multipart({ title, price: '20', currency: 'EUR' }, [{ data: await solidImage(TINY_COLOURS[colour]!) }]);
    const res = await app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, ...auth } });
    assert.equal(res.statusCode, 201, res.body);
    ids.set(title, res.json().product.id);
  }
  outfit = await scenePhoto(300, 200, [TEE, DRESS]);
  plain = await solidImage(TINY_COLOURS.white!, 64);
  orangeBag = await scenePhoto(310, 200, [BAG]);
});
after(async () => shop?.close());

interface HitJson {
  id: string;
  score: number;
  match: string;
  why: string[];
  title: string;
  image: string | null;
}

interface LookJson {
  width: number;
  height: number;
  matchColour: boolean;
  garments: Array<{ label: string; box: number[]; areaShare: number; colour: string | null; colourShare: number; filters: Record<string, string>; results: HitJson[] }>;
}

const look = (target: App, image: Buffer, query = '', type = 'image/png') =>
  target.inject({ method: 'POST', url: `/v1/shop-the-look${query}`, payload: image, headers: { 'content-type': type } });

describe('POST /v1/shop-the-look', () => {
  test('the OpenAPI document describes the endpoint, its garments and analyze?garments', async () => {
    const doc = (await app.inject('/openapi.json')).json() as {
      paths: Record<string, { post?: { parameters?: Array<{ name: string }>; requestBody?: { content: Record<string, unknown> } } }>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const path = doc.paths['/v1/shop-the-look']!.post!;
    assert.ok(path.requestBody!.content['multipart/form-data'], 'multipart body documented');
    assert.deepEqual(path.parameters!.map((p) => p.name).sort(), ['k', 'matchColour', 'maxGarments']);
    for (const id of ['ShopTheLookResponse', 'LookGarment', 'Garment']) assert.ok(doc.components.schemas[id], `component ${id}`);
    assert.ok(doc.components.schemas.AnalyzeResponse!.properties!.garments, 'analyze answers garments');
    assert.ok(doc.paths['/v1/analyze']!.post!.parameters!.some((p) => p.name === 'garments'));
  });

  test('each garment, largest first, with its box, colour and the catalog products like it', async () => {
    const res = await look(app, outfit);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as LookJson;
    assert.deepEqual([body.width, body.height, body.matchColour], [300, 200, false]);
    assert.deepEqual(body.garments.map((g) => g.label), ['dress', 't-shirt'], 'skin is not a garment');
    const [dress, tee] = body.garments as [LookJson['garments'][0], LookJson['garments'][0]];
    assert.deepEqual(dress.box, [162, 36, 96, 128]);
    assert.equal(dress.colour, 'blue');
    assert.equal(dress.colourShare, 1);
    assert.equal(dress.areaShare, 0.2048);
    assert.deepEqual(dress.filters, {});
    assert.equal(dress.results[0]!.title, 'Cotton dress');
    assert.equal(dress.results[0]!.match, 'exact');
    assert.match(dress.results[0]!.image ?? '', /^\/v1\/images\/[0-9a-f]{64}\.png$/);
    assert.equal(tee.colour, 'red');
    assert.equal(tee.results[0]!.id, ids.get('Cotton tee'));
    assert.equal(tee.results[0]!.match, 'exact');
    assert.ok(tee.results.length <= 8, 'default k');
  });

  test('matchColour keeps each garment to products of its colour (the catalog colour attribute)', async () => {
    const loose = (await look(app, outfit, '?k=10')).json() as LookJson;
    const looseTee = loose.garments.find((g) => g.label === 't-shirt')!;
    const res = await look(app, outfit, '?matchColour=true&k=10');
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as LookJson;
    assert.equal(body.matchColour, true);
    const tee = body.garments.find((g) => g.label === 't-shirt')!;
    assert.deepEqual(tee.filters, { colour: 'red' });
    assert.deepEqual(tee.results.map((r) => r.title), ['Cotton tee']);
    assert.ok(tee.results[0]!.why.some((w) => w.startsWith('colour=red')), tee.results[0]!.why.join('; '));
    assert.deepEqual(looseTee.results.map((r) => r.title), ['Cotton tee']);
    const dress = body.garments.find((g) => g.label === 'dress')!;
    assert.deepEqual(dress.filters, { colour: 'blue' });
    assert.deepEqual(dress.results.map((r) => r.title), ['Cotton dress']);

    // An orange bag: the catalog's colour attribute calls no product orange, though some look alike.
    const bag = ((await look(app, orangeBag, '?k=10')).json() as LookJson).garments[0]!;
    assert.equal(bag.colour, 'orange');
    assert.ok(bag.results.length >= 1 && bag.results.every((r) => r.match === 'similar'), 'unfiltered, look-alikes of other colours come back');
    const strict = ((await look(app, orangeBag, '?k=10&matchColour=true')).json() as LookJson).garments[0]!;
    assert.deepEqual(strict.filters, { colour: 'orange' });
    assert.deepEqual(strict.results, []);
  });

  test('a multipart upload takes the options as form fields; the query wins over them', async () => {
    const form = await multipart({ k: '1', maxGarments: '1', matchColour: '1' }, [{ data: outfit, name: 'outfit.png' }]);
    const res = await app.inject({ method: 'POST', url: '/v1/shop-the-look', ...form });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as LookJson;
    assert.equal(body.matchColour, true);
    assert.deepEqual(body.garments.map((g) => [g.label, g.results.length]), [['dress', 1]]);
    const both = await app.inject({ method: 'POST', url: '/v1/shop-the-look?maxGarments=2', ...form });
    assert.deepEqual((both.json() as LookJson).garments.map((g) => g.label), ['dress', 't-shirt']);
  });

  test('a photo without garments answers none', async () => {
    const res = await look(app, plain);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { width: 64, height: 64, matchColour: false, garments: [] });
  });

  test('photos that cannot be read get their image error code and status', async () => {
    const text = await multipart({}, [{ data: TEXT_FILE, type: 'text/plain', name: 'notes.txt' }]);
    assertError(await app.inject({ method: 'POST', url: '/v1/shop-the-look', ...text }), 415, 'not_an_image');
    assertError(await look(app, await truncatedJpeg(), '', 'image/jpeg'), 422, 'truncated');
    const empty = await multipart({}, [{ data: Buffer.alloc(0) }]);
    assertError(await app.inject({ method: 'POST', url: '/v1/shop-the-look', ...empty }), 400, 'empty_file');
    assertError(await app.inject({ method: 'POST', url: '/v1/shop-the-look', payload: 'hello', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    assertError(await app.inject({ method: 'POST', url: '/v1/shop-the-look', ...(await multipart({ k: '3' })) }), 400, 'invalid_argument');
    assertError(await look(app, Buffer.alloc(20 * 1024 * 1024 + 1)), 413, 'too_large');
  });

  test('bad options are 400 invalid_argument, in the query or the form, before any segmentation', async () => {
    const calls = segmenter.calls;
    for (const query of ['?k=0', '?k=51', '?k=abc', '?k=1.5', '?maxGarments=0', '?maxGarments=11', '?matchColour=maybe', '?colour=red']) {
      const error = assertError(await look(app, outfit, query), 400, 'invalid_argument');
      assert.match(error.message, /querystring/, query);
    }
    for (const fields of [{ k: '0' }, { matchColour: 'yes' }, { colour: 'red' }] as Array<Record<string, string>>) {
      const form = await multipart(fields, [{ data: outfit }]);
      const error = assertError(await app.inject({ method: 'POST', url: '/v1/shop-the-look', ...form }), 400, 'invalid_argument');
      assert.match(error.message, /form/);
    }
    assert.equal(segmenter.calls, calls);
  });
});

describe('POST /v1/analyze?garments=true', () => {
  test('lists the garments of the whole photo, also when a region was analysed', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/analyze?garments=true&x=0&y=0&w=100&h=100', payload: outfit, headers: { 'content-type': 'image/png' } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.region, { x: 0, y: 0, w: 100, h: 100 });
    assert.deepEqual(body.garments, [
      { label: 'dress', box: [162, 36, 96, 128], areaShare: 0.2048, colour: 'blue', colourShare: 1 },
      { label: 't-shirt', box: [24, 68, 72, 64], areaShare: 0.0768, colour: 'red', colourShare: 1 },
    ]);
  });

  test('without garments=true there are none and the segmenter does not run', async () => {
    const calls = segmenter.calls;
    const res = await app.inject({ method: 'POST', url: '/v1/analyze?garments=false', payload: outfit, headers: { 'content-type': 'image/png' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal('garments' in res.json(), false);
    assert.equal(segmenter.calls, calls);
  });
});

describe('when segmentation is not available', () => {
  test('a server without a segmenter answers 503 unavailable, and the rest of analyze works', async () => {
    const bare = await shop.app();
    const error = assertError(await look(bare, outfit), 503, 'unavailable');
    assert.match(error.message, /does not segment clothing/);
    assert.equal((await look(bare, outfit)).headers['retry-after'], '5');
    assertError(await bare.inject({ method: 'POST', url: '/v1/analyze?garments=true', payload: outfit, headers: { 'content-type': 'image/png' } }), 503, 'unavailable');
    const plainAnalyze = await bare.inject({ method: 'POST', url: '/v1/analyze', payload: outfit, headers: { 'content-type': 'image/png' } });
    assert.equal(plainAnalyze.statusCode, 200, plainAnalyze.body);
  });

  test('a segmentation model that cannot be opened is 503 with its reason, tried again by the next request', async () => {
    let opens = 0;
    const broken = await shop.app({}, {
      segmenter: async () => {
        opens++;
        throw new GroknetError('model_not_found', 'no model.json at /secret/models/groknet-segment/model.json');
      },
    });
    const error = assertError(await look(broken, outfit), 503, 'unavailable');
    assert.match(error.message, /could not be opened \(model_not_found\)/);
    assertError(await look(broken, outfit), 503, 'unavailable');
    assert.equal(opens, 2);
    // The server goes on: health and the rest of the API answer; /readyz names the failure.
    const ready = await broken.inject('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.equal((ready.json() as { checks: { segmenter: string } }).checks.segmenter, 'failing');
  });

  test('a segmenter opened on first use is opened once and closed with the app', async () => {
    let opens = 0;
    const lazy = scriptedSegmenter(OUTFIT_GARMENTS);
    const own = await shop.app({}, {
      segmenter: async () => {
        opens++;
        return lazy;
      },
    });
    assert.equal(opens, 0, 'not opened before it is needed');
    const segmenterCheck = async () => ((await own.inject('/readyz')).json() as { checks: { segmenter: string } }).checks.segmenter;
    assert.equal(await segmenterCheck(), 'not_loaded', '/readyz does not open it');
    for (let i = 0; i < 2; i++) assert.equal((await look(own, outfit)).statusCode, 200);
    assert.equal(opens, 1);
    assert.equal(await segmenterCheck(), 'ok');
    await own.close();
    assert.equal(lazy.closed, true);
    assert.equal(segmenter.closed, false, 'a segmenter given ready stays its owner\'s');
  });
});

describe('bounds', () => {
  /** A segmenter that holds every photo until released. */
  function heldSegmenter(): { segmenter: PhotoSegmenter; release: () => void; started: Promise<void> } {
    let release!: () => void;
    let started!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const startedPromise = new Promise<void>((resolve) => (started = resolve));
    const segmenter = scriptedSegmenter([], {
      before: async () => {
        started();
        await gate;
      },
    });
    return { segmenter, release, started: startedPromise };
  }

  test('photos beyond the segmentation bound are refused with 429 and Retry-After', async () => {
    const held = heldSegmenter();
    // One full batch fits in the queue: one photo may wait for or be in the segmenter.
    const busy = await shop.app({ inference: { maxQueue: 2, maxBatch: 2 } }, { segmenter: held.segmenter });
    const first = look(busy, plain);
    await held.started;
    const refused = await look(busy, plain);
    assertError(refused, 429, 'overloaded');
    assert.match(String(refused.headers['retry-after']), /^\d+$/);
    held.release();
    assert.equal((await first).statusCode, 200);
    assert.equal((await look(busy, plain)).statusCode, 200, 'room again once it is done');
  });

  test('a photo still waiting for the segmenter at the deadline is 504; the one running finishes', async () => {
    const held = heldSegmenter();
    const slow = await shop.app({ inference: { maxQueue: 8, maxBatch: 2, timeoutMs: 150 } }, { segmenter: held.segmenter });
    const first = look(slow, plain);
    await held.started;
    assertError(await look(slow, plain), 504, 'timeout');
    held.release();
    assert.equal((await first).statusCode, 200, 'a started run is not cut off by its deadline');
  });
});
