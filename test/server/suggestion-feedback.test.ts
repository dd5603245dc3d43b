// What the model suggested and what the seller kept (issue #26): POST /v1/products with
// `suggested` records, per photo and head, accepted / corrected / dropped; forged or
// malformed suggestions are refused with their field path and nothing is published; without
// them nothing is recorded; GET /v1/products/:id shows it; /metrics and `groknet labels
// stats` count it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FEEDBACK_TABLE } from '../../src/catalog/feedback.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import type { HeadResult } from '../../src/model/types.ts';
import { buildApp, type App } from '../../src/server/app.ts';
import { runCli } from '../helpers/cli.ts';
import { BASIC_COLOURS, createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { renderImage } from '../helpers/images.ts';
import { tempDir } from '../helpers/tmp.ts';
import { assertError, multipart } from './helpers/http.ts';

const MODEL = 'feedback-test@1';
const CLOTHING: Record<string, string> = { red: 'T-Shirt', blue: 'Dress', green: 'Pants' };

/** Heads beside `colour`: a category head, an attribute head and a tag head, from the photo's colour. */
function extraHeads(colourOf: (bytes: Buffer) => string): (bytes: Buffer) => Record<string, HeadResult> {
  return (bytes) => {
    const colour = colourOf(bytes);
    return {
      clothing: { kind: 'single', top: [{ label: CLOTHING[colour] ?? 'Other', score: 0.91 }, { label: 'Shirt', score: 0.05 }] },
      material: { kind: 'single', top: [{ label: 'cotton', score: 0.8 }] },
      garment_tags: { kind: 'multi', labels: [{ label: 'short-sleeve', score: 0.7 }, { label: 'v-neck', score: 0.6 }] },
    };
  };
}

const photos = new Map<string, string>();
const analyzer = createColourAnalyzer({ modelVersion: MODEL, extraHeads: extraHeads((bytes) => photos.get(bytes.toString('base64')) ?? 'grey') });
let tmp: Awaited<ReturnType<typeof tempDir>>;
let dataDir: string;
let catalog: CatalogStore;
let catalogClosed = false;
let app: App;
let red: Buffer;
let blue: Buffer;

async function photo(colour: string): Promise<Buffer> {
  const bytes = await renderImage({ background: `rgb(${BASIC_COLOURS[colour]!.join(',')})`, size: 64 });
  photos.set(bytes.toString('base64'), colour);
  return bytes;
}

async function publish(fields: Record<string, string>, files: Buffer[] = [red]) {
  const body = await multipart(fields, files.map((data) => ({ data })));
  return app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: body.headers });
}

/** What /v1/analyze answered for the red photo, as the page sends it back. */
const SHOWN_RED = {
  modelVersion: MODEL,
  heads: [
    { head: 'clothing', label: 'T-Shirt', score: 0.91 },
    { head: 'colour', label: 'red', score: 0.9 },
    { head: 'material', label: 'cotton', score: 0.8 },
    { head: 'garment_tags', label: 'short-sleeve', score: 0.7 },
    { head: 'garment_tags', label: 'v-neck', score: 0.6 },
  ],
};

before(async () => {
  tmp = await tempDir();
  dataDir = join(tmp.path, 'data');
  catalog = await openCatalog(dataDir, { embeddingDim: analyzer.embeddingDim });
  app = await buildApp({ analyzer, catalog, config: { dataDir, rateLimitPerMinute: 0, web: false, allowAnonymousWrites: true } });
  red = await photo('red');
  blue = await photo('blue');
});
after(async () => {
  await app?.close();
  if (!catalogClosed) await catalog?.close();
  await tmp.cleanup();
});

describe('suggestion feedback', () => {
  test('no suggestions: published as before, nothing recorded (no feedback table at all), GET shows feedback []', async () => {
    const res = await publish({ id: 'plain', title: 'Plain tee', category: 'T-Shirt', attributes: '{"colour":"red"}' });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(existsSync(join(dataDir, `${FEEDBACK_TABLE}.lance`)), false, 'a catalog without suggestions has no feedback table');
    const got = await app.inject('/v1/products/plain');
    assert.equal(got.statusCode, 200, got.body);
    assert.deepEqual(got.json().feedback, []);
    assert.equal(got.json().title, 'Plain tee');
  });

  test('accepted, corrected and dropped are recorded per head and shown by GET', async () => {
    const res = await publish({
      id: 'tee',
      title: 'Red T-Shirt',
      category: 'fashion > clothing > T-Shirt',
      attributes: JSON.stringify({ colour: 'crimson', tags: ['short-sleeve'] }),
      suggested: JSON.stringify([SHOWN_RED]),
    });
    assert.equal(res.statusCode, 201, res.body);
    const got = (await app.inject('/v1/products/tee')).json();
    assert.equal(got.feedback.length, 1);
    const [image] = got.feedback;
    assert.equal(image.image, 0);
    assert.equal(image.modelVersion, MODEL);
    const byHead = Object.fromEntries(image.suggestions.map((s: { head: string; label: string }) => [`${s.head}:${s.label}`, s]));
    assert.deepEqual(byHead['clothing:T-Shirt'], { head: 'clothing', label: 'T-Shirt', score: 0.91, field: 'category', outcome: 'accepted', final: 'fashion > clothing > T-Shirt' });
    assert.deepEqual(byHead['colour:red'], { head: 'colour', label: 'red', score: byHead['colour:red'].score, field: 'attributes.colour', outcome: 'corrected', final: 'crimson' });
    assert.ok(byHead['colour:red'].score > 0.5, 'the score is the analysis of the published photo');
    assert.deepEqual(byHead['material:cotton'], { head: 'material', label: 'cotton', score: 0.8, field: 'attributes.material', outcome: 'dropped', final: null });
    assert.equal(byHead['garment_tags:short-sleeve'].outcome, 'accepted');
    assert.equal(byHead['garment_tags:v-neck'].outcome, 'dropped');
    assert.equal(image.suggestions.length, 5);
    // Feedback is not the listing: the content hash is that of the same listing without it.
    const stored = await catalog.getProduct('tee');
    const again = await publish({ id: 'tee-twin', title: 'Red T-Shirt', category: 'fashion > clothing > T-Shirt', attributes: JSON.stringify({ colour: 'crimson', tags: ['short-sleeve'] }) });
    assert.equal(again.statusCode, 201);
    const twin = await catalog.getProduct('tee-twin');
    assert.deepEqual({ ...twin, id: 'x', productHash: '', images: [] }, { ...stored, id: 'x', productHash: '', images: [] });
  });

  test('a category corrected to another label, and null entries for photos shown nothing', async () => {
    const shownBlue = { modelVersion: MODEL, heads: [{ head: 'clothing', label: 'Dress', score: 0.91 }] };
    const res = await publish({ id: 'two', title: 'Two photos', category: 'Skirt', suggested: JSON.stringify([null, shownBlue]) }, [red, blue]);
    assert.equal(res.statusCode, 201, res.body);
    const { feedback } = (await app.inject('/v1/products/two')).json();
    assert.deepEqual(feedback, [{ image: 1, modelVersion: MODEL, suggestions: [{ head: 'clothing', label: 'Dress', score: 0.91, field: 'category', outcome: 'corrected', final: 'Skirt' }] }]);
  });

  test('forged or malformed suggestions: 400 naming the field, nothing published', async () => {
    const before = await catalog.countProducts();
    const cases: Array<[unknown, Array<string | number>, RegExp]> = [
      [[{ ...SHOWN_RED, heads: [{ head: 'clothing', label: 'Tuxedo', score: 0.9 }] }], ['suggested', 0, 'heads', 0, 'label'], /did not suggest 'Tuxedo'/],
      [[{ ...SHOWN_RED, heads: [{ head: 'price_guess', label: '12', score: 0.9 }] }], ['suggested', 0, 'heads', 0, 'head'], /no suggesting head 'price_guess'/],
      [[{ ...SHOWN_RED, modelVersion: 'other@9' }], ['suggested', 0, 'modelVersion'], /this server runs feedback-test@1/],
      [[SHOWN_RED, SHOWN_RED], ['suggested', 1], /1 photo/],
      [[{ ...SHOWN_RED, heads: [{ head: 'colour', label: 'red', score: 0.9 }, { head: 'colour', label: 'blue', score: 0.1 }] }], ['suggested', 0, 'heads', 1, 'head'], /given twice/],
      [[{ ...SHOWN_RED, heads: [{ head: 'colour', label: 'red', score: 2 }] }], ['suggested', 0, 'heads', 0, 'score'], /./],
      [[{ ...SHOWN_RED, extra: true }], ['suggested', 0], /./],
      [{ modelVersion: MODEL }, ['suggested'], /./],
    ];
    for (const [suggested, path, message] of cases) {
      const error = assertError(await publish({ title: 'Forged', suggested: JSON.stringify(suggested) }), 400, 'invalid_argument');
      assert.deepEqual(error.issues?.[0]?.path, path, JSON.stringify(error));
      assert.equal(error.issues?.[0]?.in, 'form');
      assert.match(error.issues![0]!.message, message);
    }
    const notJson = assertError(await publish({ title: 'Forged', suggested: '[{' }), 400, 'invalid_argument');
    assert.deepEqual(notJson.issues?.[0]?.path, ['suggested']);
    assert.match(notJson.message, /must be a JSON list/);
    assert.equal(await catalog.countProducts(), before, 'nothing was published');
  });

  test('republished without suggestions forgets them; a delete removes them', async () => {
    assert.equal((await publish({ id: 'again', title: 'Again', suggested: JSON.stringify([SHOWN_RED]) })).statusCode, 201);
    assert.equal((await app.inject('/v1/products/again')).json().feedback.length, 1);
    assert.equal((await publish({ id: 'again', title: 'Again' })).statusCode, 200);
    assert.deepEqual((await app.inject('/v1/products/again')).json().feedback, []);
    assert.equal((await publish({ id: 'again', title: 'Again', suggested: JSON.stringify([SHOWN_RED]) })).statusCode, 200);
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/products/again' })).statusCode, 200);
    assert.deepEqual(await catalog.feedbackOf('again'), []);
  });

  test('/metrics counts outcomes per head and label from the catalog', async () => {
    const res = await app.inject('/metrics');
    assert.equal(res.statusCode, 200);
    const lines = res.body.split('\n');
    assert.ok(lines.includes('# TYPE groknet_suggestions gauge'), res.body);
    assert.ok(lines.includes('groknet_suggestions{head="clothing",label="T-Shirt",outcome="accepted"} 1'), res.body);
    assert.ok(lines.includes('groknet_suggestions{head="clothing",label="Dress",outcome="corrected"} 1'), res.body);
    assert.ok(lines.includes('groknet_suggestions{head="colour",label="red",outcome="corrected"} 1'), res.body);
    assert.ok(lines.includes('groknet_suggestions{head="material",label="cotton",outcome="dropped"} 1'), res.body);
    // The deleted product's suggestions no longer count.
    assert.equal(lines.filter((l) => l.startsWith('groknet_suggestions{')).length, 6, res.body);
    assert.ok(lines.some((l) => l.startsWith('groknet_http_request_duration_seconds')), 'the other metrics are still there');
  });

  test('OpenAPI documents `suggested` and the product feedback', async () => {
    const doc = (await app.inject('/openapi.json')).json();
    const text = JSON.stringify(doc);
    assert.match(text, /"suggested"/);
    assert.ok(doc.components.schemas.ImageFeedback, 'ImageFeedback schema');
    assert.ok(doc.components.schemas.ProductDetail.properties.feedback, 'feedback on GET /v1/products/{id}');
  });

  test('groknet labels stats: the counts, as text and JSON; an empty catalog; no catalog', async () => {
    // The command opens the catalog itself, as a user's second process would.
    await app.close();
    await catalog.close();
    catalogClosed = true;
    const text = await runCli(['labels', 'stats', '--data', dataDir]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^clothing:/m);
    assert.match(text.stdout, /^\s+Dress\s+1\s+0\s+1\s+0\s+Skirt \(1\)$/m);
    assert.match(text.stdout, /^\s+red\s+1\s+0\s+1\s+0\s+crimson \(1\)$/m);
    const json = await runCli(['labels', 'stats', '--data', dataDir, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const { labels } = JSON.parse(json.stdout) as { labels: Array<Record<string, unknown>> };
    assert.deepEqual(labels.find((l) => l.head === 'colour'), { head: 'colour', label: 'red', shown: 1, accepted: 0, corrected: 1, dropped: 0, correctedTo: [{ value: 'crimson', count: 1 }] });

    const empty = join(tmp.path, 'empty');
    const emptyCatalog = await openCatalog(empty, { embeddingDim: analyzer.embeddingDim });
    await emptyCatalog.close();
    const none = await runCli(['labels', 'stats', '--data', empty]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /no suggestion feedback yet/);
    assert.deepEqual(JSON.parse((await runCli(['labels', 'stats', '--data', empty, '--json'])).stdout), { labels: [] });

    const missing = await runCli(['labels', 'stats', '--data', join(tmp.path, 'nowhere')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no catalog in .*nowhere.*\[file_not_found\]/);
    const unknown = await runCli(['labels', 'frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown labels subcommand 'frobnicate'/);
  });
});
