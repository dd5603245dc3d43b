// `groknet train --catalog` as a user runs it: a tiny model, a catalog indexed by `groknet
// index` from a JSONL of listings whose `colour` attribute the photos show.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let modelDir: string;
let data: string;

before(async () => {
  tmp = await tempDir('groknet-cli-train-catalog-');
  process.env.GROKNET_CACHE = path.join(tmp.path, 'cache');
  modelDir = (await createTinyModel(path.join(tmp.path, 'model'))).dir;
  const lines: string[] = [];
  for (const [c, colour] of (['red', 'blue'] as const).entries()) {
    for (let i = 0; i < 8; i++) {
      const id = `${colour}-${i}`;
      await writeFile(path.join(tmp.path, `${id}.png`), await solidImage(TINY_COLOURS[colour]!, 40 + c * 10 + i));
      lines.push(JSON.stringify({ id, title: `A ${colour} thing`, image: `${id}.png`, attributes: { colour } }));
    }
  }
  await writeFile(path.join(tmp.path, 'listings.jsonl'), lines.join('\n'));
  data = path.join(tmp.path, 'data');
  const indexed = await runCli(['index', path.join(tmp.path, 'listings.jsonl'), '--data', data, '--model', modelDir, '--no-detect']);
  assert.equal(indexed.code, 0, indexed.stderr);
});
after(async () => {
  await tmp.cleanup();
});

test('train --catalog writes a model with the new head and reports its evaluation', async () => {
  const out = path.join(tmp.path, 'new-model');
  const run = await runCli(['train', '--catalog', data, '--head', 'seller_colour', '--from', 'attributes.colour', '--out', out, '--model', modelDir]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.head, 'seller_colour');
  assert.deepEqual(report.labels.classes, { blue: 8, red: 8 });
  assert.ok(report.evaluation.heldOutImages > 0);
  const manifest = JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8'));
  assert.deepEqual(manifest.heads.map((h: { name: string }) => h.name), ['colour', 'seller_colour']);
  const analyzed = await runCli(['analyze', '--json', '--model', out, path.join(tmp.path, 'red-0.png')]);
  assert.equal(analyzed.code, 0, analyzed.stderr);
  assert.match(analyzed.stdout, /seller_colour/);
});

test('train --catalog refuses a field that is not a label, with its code, and writes nothing', async () => {
  const out = path.join(tmp.path, 'refused');
  const run = await runCli(['train', '--catalog', data, '--head', 'x', '--from', 'attributes.size', '--out', out, '--model', modelDir]);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /invalid_labels|empty for most listings: 0 of 16/);
  await assert.rejects(stat(out));
});

test('labels export writes the training set as JSONL for the jsonl adapter', async () => {
  const out = path.join(tmp.path, 'colour.jsonl');
  const run = await runCli(['labels', 'export', '--data', data, '--from', 'attributes.colour', '--out', out]);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout).labels, { blue: 8, red: 8 });
  const lines = (await readFile(out, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines.length, 16);
  assert.ok(lines.every((l) => /^(red|blue)-\d\.png$/.test(l.image) && l.image.startsWith(l.label) && (l.split === 'train' || l.split === 'val')));
  const refused = await runCli(['labels', 'export', '--data', data, '--from', 'price', '--out', out]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /unknown label field 'price'/);
});
