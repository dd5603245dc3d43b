// `groknet shop-the-look` as a user runs it: a child process over a small catalog built
// with the tiny real model, and the segmentation test model (the real trunk, a generated
// decoder that calls every pixel a dress), on small generated photos. What happens between
// several garments and the catalog is the shared pipeline, tested through the API in
// test/server/shop-the-look.test.ts.
import assert from 'node:assert/strict';
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openCatalog } from '../../src/catalog/open.ts';
import { shopTheLookCommand } from '../../src/cli/commands/shop-the-look.ts';
import { GroknetError } from '../../src/errors.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { TEXT_FILE, truncatedJpeg } from '../helpers/bad-images.ts';
import { productFrom } from '../helpers/catalog.ts';
import { writeImage, type ImageSpec } from '../helpers/images.ts';
import { createTinyModel, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';
import { createConstantSegmentModel } from '../segment/helpers.ts';
import { runCli } from '../helpers/cli.ts';
import type { ShopTheLookResponse } from '../../web/src/types.ts';


const run = (args: string[]) => runCli(['shop-the-look', ...args]);

// The CLI's --json is the API's answer: the shape the web page reads.
type LookJson = ShopTheLookResponse;

const tmp = await tempDir('groknet-look-cli-');
let data: string;
let models: string[];
let outfit: string;

const hex = ([r, g, b]: readonly number[]) => `#${[r, g, b].map((v) => v!.toString(16).padStart(2, '0')).join('')}`;
const [RED, BLUE, YELLOW, GREEN] = (['red', 'blue', 'yellow', 'green'] as const).map((c) => hex(TINY_COLOURS[c]!)) as [string, string, string, string];

// The catalog, each product one photo; its colour attribute is the tiny model's colour head.
// The blue dress with a red panel and the yellow hat with red stripes look somewhat like the
// outfit below but are not red; the green chinos look nothing like it.
const PRODUCTS: Record<string, { colour: string; title: string; image: ImageSpec }> = {
  'tee-red': { colour: 'red', title: 'Cotton tee', image: { background: RED } },
  'dress-red': { colour: 'red', title: 'Red dress', image: { background: RED, shape: 'circle', foreground: '#c81414' } },
  'dress-blue': { colour: 'blue', title: 'Blue dress, red panel', image: { background: BLUE, shape: 'square', foreground: RED } },
  'hat-yellow': { colour: 'yellow', title: 'Sun hat', image: { background: YELLOW, shape: 'stripes', foreground: RED } },
  'chinos-green': { colour: 'green', title: 'Chinos', image: { background: GREEN } },
};

before(async () => {
  const [tiny, segment] = await Promise.all([createTinyModel(), createConstantSegmentModel('dress')]);
  models = ['--model', tiny.dir, '--segment-model', segment.dir];
  data = path.join(tmp.path, 'data');
  const analyzer = await ModelAnalyzer.open(tiny.dir);
  const catalog = await openCatalog(data, { embeddingDim: analyzer.embeddingDim });
  try {
    const products = [];
    for (const [id, { colour, title, image }] of Object.entries(PRODUCTS)) {
      const product = await productFrom(analyzer, id, [image], { title, price: 20, currency: 'EUR' });
      const head = product.images[0]!.analysis.heads.colour;
      assert.equal(head?.kind === 'single' ? head.top[0]?.label : undefined, colour, `${id}'s colour attribute`);
      products.push(product);
    }
    await catalog.insertProducts(products);
  } finally {
    await catalog.close();
    await analyzer.close();
  }
  // A red dress with a blue panel (a quarter of it): the whole photo is one red garment.
  outfit = path.join(tmp.path, 'outfit.png');
  await writeImage(outfit, { background: RED, shape: 'square', foreground: BLUE });
});
after(() => tmp.cleanup());

test('--json: the API answer, each garment with its colour filter and the catalog products of its colour', async () => {
  const { code, stdout, stderr } = await run([outfit, '--data', data, ...models, '--json']);
  assert.equal(code, 0, stderr);
  const look = JSON.parse(stdout) as LookJson;
  assert.deepEqual(Object.keys(look), ['width', 'height', 'matchColour', 'garments']);
  assert.deepEqual([look.width, look.height, look.matchColour], [64, 64, true]);
  assert.equal(look.garments.length, 1);
  const [dress] = look.garments as [LookJson['garments'][0]];
  assert.deepEqual(Object.keys(dress), ['label', 'box', 'areaShare', 'colour', 'colourShare', 'filters', 'results']);
  assert.deepEqual([dress.label, dress.box, dress.areaShare, dress.colour, dress.colourShare], ['dress', [0, 0, 64, 64], 1, 'red', 0.75]);
  assert.deepEqual(dress.filters, { colour: 'red' });
  assert.deepEqual(dress.results.map((r) => r.id).sort(), ['dress-red', 'tee-red'], 'only the red products');
  for (const hit of dress.results) {
    assert.deepEqual(Object.keys(hit), ['id', 'score', 'match', 'why', 'title', 'image', 'price', 'currency']);
    assert.equal(hit.title, PRODUCTS[hit.id]!.title);
    assert.ok(['exact', 'similar'].includes(hit.match), hit.match);
    assert.ok(hit.score > 0 && hit.score <= 1);
    assert.match(hit.image!, new RegExp(`/${hit.id}/0\\.png$`), 'the catalog path of the matched image');
    assert.deepEqual([hit.price, hit.currency], [20, 'EUR']);
  }
  assert.ok(dress.results[0]!.score >= dress.results[1]!.score, 'best first');
});

test('--no-colour searches the whole catalog', async () => {
  const { code, stdout, stderr } = await run([outfit, '--data', data, ...models, '--json', '--no-colour']);
  assert.equal(code, 0, stderr);
  const look = JSON.parse(stdout) as LookJson;
  assert.equal(look.matchColour, false);
  const [dress] = look.garments as [LookJson['garments'][0]];
  assert.equal(dress.colour, 'red');
  assert.deepEqual(dress.filters, {});
  const ids = dress.results.map((r) => r.id);
  assert.deepEqual(ids.slice(0, 2).sort(), ['dress-red', 'tee-red'], 'the red products still first');
  assert.deepEqual(ids.slice(2).sort(), ['dress-blue', 'hat-yellow'], 'then products of other colours (the green chinos are too unlike the outfit)');
});

test('text: each garment with its colour, share, box and filter, then its results (--k of them)', async () => {
  const { code, stdout, stderr } = await run([outfit, '--data', data, ...models, '--k', '1']);
  assert.equal(code, 0, stderr);
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /outfit\.png {2}64x64 {2}\(1 garment, each searched among products of its colour\)$/);
  assert.match(lines[1]!, /^ {2}dress +red +100\.0% {2}0,0 64x64 {2}\[colour=red\]$/);
  assert.match(lines[2]!, /^ {6}0\.\d{4} {2}(exact|similar) +(tee-red {2}Cotton tee|dress-red {2}Red dress)$/);
});

test('a photo that cannot be read is its error line and exit 1, before any model loads', async () => {
  const notes = path.join(tmp.path, 'notes.png');
  const cut = path.join(tmp.path, 'cut.jpg');
  await writeFile(notes, TEXT_FILE);
  await writeFile(cut, await truncatedJpeg());
  // The model given does not exist: it is never opened.
  const nope = path.join(tmp.path, 'nope');
  const [json, truncated, text] = await Promise.all([
    run([notes, '--data', data, '--model', nope, '--json']),
    run([cut, '--data', data, '--model', nope, '--json']),
    run([path.join(tmp.path, 'missing.png'), '--data', data, '--model', nope]),
  ]);
  for (const [result, file, expected] of [[json, notes, 'not_an_image'], [truncated, cut, 'truncated']] as const) {
    assert.equal(result.code, 1, expected);
    const line = JSON.parse(result.stdout) as { file: string; error: { code: string; message: string } };
    assert.deepEqual([line.file, line.error.code], [file, expected]);
    assert.ok(line.error.message.length > 0);
    assert.equal(result.stderr, '');
  }
  assert.equal(text.code, 1);
  assert.match(text.stdout, /missing\.png\n {2}error file_not_found: /);
});

test('bad options and unknown flags are refused before any work (main maps invalid_argument to exit 2)', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--k', '0'], /--k must be an integer from 1 to 50, got '0'/],
    [['--k', '51'], /--k must be an integer from 1 to 50/],
    [['--k', '2.5'], /--k must be an integer/],
    [['--max-garments', '0'], /--max-garments must be an integer from 1 to 10/],
    [['--max-garments', '11'], /--max-garments must be an integer from 1 to 10/],
    [['--min-share', '2'], /--min-share must be a number from 0 to 1, got '2'/],
    [['--min-share', ''], /--min-share must be a number from 0 to 1/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['--colour'], /Unknown option '--colour'/],
  ];
  for (const [args, message] of cases) {
    // The photo does not exist: nothing gets as far as reading it.
    await assert.rejects(shopTheLookCommand(['missing.png', '--data', data, ...args]), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_argument' && message.test(e.message), args.join(' '));
  }
  const [bad, two] = await Promise.all([run([outfit, '--data', data, '--k', '0']), run([outfit, outfit])]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, `groknet shop-the-look: An argument is missing or out of range: --k must be an integer from 1 to 50, got '0' [invalid_argument]\n`, 'one line, no stack trace');
  assert.equal(bad.stdout, '');
  assert.equal(two.code, 2);
  assert.match(two.stderr, /^usage: groknet shop-the-look FILE /);
});

test('a missing catalog or segmentation model exits 1 with a clear message; nothing is created', async () => {
  const nowhere = path.join(tmp.path, 'no-catalog');
  const [noCatalog, noModel] = await Promise.all([
    run([outfit, '--data', nowhere, ...models]),
    run([outfit, '--data', data, '--model', models[1]!, '--segment-model', tmp.path]),
  ]);
  assert.equal(noCatalog.code, 1);
  assert.match(noCatalog.stderr, /^groknet shop-the-look: .*no catalog in .*no-catalog \(build one with: groknet index SOURCE --data .*no-catalog\) \[file_not_found\]\n$/);
  await assert.rejects(access(nowhere), 'no empty catalog is left behind');

  assert.equal(noModel.code, 1);
  assert.match(noModel.stderr, /^groknet shop-the-look: .*\[model_not_found\]\n$/);
});
