// `groknet index --garments` and `groknet worker --garments` as a user runs them: garments
// stored with a generated segmentation model (real trunk, a decoder that calls every pixel
// a dress), then `search --filter garment_colour=...`; and the contradictory options and
// bad model directories refused before anything is written or any queue is reached.
import assert from 'node:assert/strict';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createConstantSegmentModel } from '../segment/helpers.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';
import { runCli } from '../helpers/cli.ts';


const run = runCli;

const tmp = await tempDir('groknet-cli-garments-');
let modelDir: string;
let segmentDir: string;
let listings: string;
// Nothing listens there: a command that got as far as the queue would fail with queue_error.
const NO_REDIS = 'redis://127.0.0.1:9';

before(async () => {
  modelDir = (await createTinyModel()).dir;
  segmentDir = (await createConstantSegmentModel('dress')).dir;
  const shop = path.join(tmp.path, 'shop');
  await mkdir(shop);
  const items = [
    { id: 'red-dress', title: 'Red dress', colour: 'red' },
    { id: 'blue-dress', title: 'Blue dress', colour: 'blue' },
    { id: 'green-dress', title: 'Green dress', colour: 'green' },
  ];
  for (const item of items) await writeFile(path.join(shop, `${item.id}.png`), await solidImage(TINY_COLOURS[item.colour]!, 40));
  listings = path.join(shop, 'listings.jsonl');
  await writeFile(listings, items.map((i) => JSON.stringify({ id: i.id, title: i.title, price: 30, currency: 'EUR', image: `${i.id}.png` })).join('\n'));
});
after(() => tmp.cleanup());

const exists = (file: string) => access(file).then(() => true, () => false);

test('index --garments stores each photo\'s garments; search --filter garment_colour finds them', async () => {
  const data = path.join(tmp.path, 'data');
  const indexed = await run(['index', listings, '--data', data, '--model', modelDir, '--no-detect', '--garments', '--segment-model', segmentDir]);
  assert.equal(indexed.code, 0, indexed.stderr);
  const summary = JSON.parse(indexed.stdout) as { indexed: number; segmented: number; failed: unknown[] };
  assert.deepEqual([summary.indexed, summary.segmented, summary.failed], [3, 3, []]);

  const found = async (filter: string) => {
    const res = await run(['search', '--data', data, '--text', 'dress', '--filter', filter, '--json']);
    assert.equal(res.code, 0, res.stderr);
    return (JSON.parse(res.stdout) as { results: Array<{ id: string }> }).results.map((r) => r.id);
  };
  assert.deepEqual(await found('garment_colour=red'), ['red-dress']);
  assert.deepEqual(await found('garment_colour=dress:blue'), ['blue-dress']);
  assert.ok(!(await found('garment_colour=blue')).includes('red-dress'));

  // Without --garments nothing is segmented, and the stored garments stay.
  const again = await run(['index', listings, '--data', data, '--model', modelDir, '--no-detect']);
  assert.equal((JSON.parse(again.stdout) as { unchanged: number; segmented?: number }).unchanged, 3);
  assert.equal((JSON.parse(again.stdout) as { segmented?: number }).segmented, undefined);
  assert.deepEqual(await found('garment_colour=red'), ['red-dress']);
});

test('contradictory options are refused (exit 2) before any work', async () => {
  const data = path.join(tmp.path, 'never');
  const cases: Array<[string[], RegExp]> = [
    [['index', listings, '--data', data, '--segment-model', segmentDir], /--segment-model only applies with --garments \[invalid_argument\]/],
    [['index', listings, '--data', data, '--garments', '--segment-model', ''], /--segment-model needs a directory/],
    [['index', listings, '--garments', '--queue', NO_REDIS], /--garments is for the processes that ingest: with --queue, give it to `groknet worker`/],
    [['worker', '--queue', NO_REDIS, '--data', data, '--segment-model', segmentDir], /--segment-model only applies with --garments/],
  ];
  for (const [args, message] of cases) {
    const res = await run(args);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message);
  }
  assert.equal(await exists(data), false, 'no catalog was created');
});

test('a segmentation model that is not there fails the start (exit 1), before the catalog or the queue', async () => {
  const missing = path.join(tmp.path, 'no-such-model');
  const data = path.join(tmp.path, 'untouched');
  const index = await run(['index', listings, '--data', data, '--model', modelDir, '--no-detect', '--garments', '--segment-model', missing]);
  assert.equal(index.code, 1);
  assert.match(index.stderr, /groknet index: No model was found at the given location: no model\.json at .*no-such-model.* \[model_not_found\]/);
  assert.equal(await exists(data), false, 'nothing was written');
  // The product model directory is not a segmentation model either.
  const wrong = await run(['index', listings, '--data', data, '--model', modelDir, '--no-detect', '--garments', '--segment-model', modelDir]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /\[model_invalid\]/);

  const worker = await run(['worker', '--queue', NO_REDIS, '--data', data, '--model', modelDir, '--no-detect', '--garments', '--segment-model', missing]);
  assert.equal(worker.code, 1);
  assert.match(worker.stderr, /\[model_not_found\]/, 'not queue_error: the queue was never reached');
  assert.equal(await exists(data), false);
});
