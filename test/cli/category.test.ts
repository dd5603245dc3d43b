// The seller's category as a user meets it on the command line: a CSV `category` column
// indexed by `groknet index`, then `groknet search --filter category=...` and its facets.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';

let modelDir: string;
let work: string;
before(async () => {
  modelDir = (await createTinyModel()).dir;
  work = await mkdtemp(path.join(os.tmpdir(), 'groknet-category-'));
});
after(() => rm(work, { recursive: true, force: true }));

interface SearchOutput {
  results: Array<{ id: string; why: string[] }>;
  facets: Record<string, Record<string, number> | Array<{ value: string; count: number }>>;
}

test('index a CSV with a category column, then filter by category; a too long category fails its line only', async () => {
  const rows = [
    ['red-sofa', 'Red sofa', 'Sofas', 'red'],
    ['blue-sofa', 'Blue sofa', 'Sofas', 'blue'],
    ['yellow-chair', 'Yellow chair', 'Chairs', 'yellow'],
    ['blue-lamp', 'Blue lamp', '', 'blue'],
    ['red-rug', 'Red rug', 'x'.repeat(201), 'red'],
  ];
  for (const [id, , , colour] of rows) await writeFile(path.join(work, `${id}.png`), await solidImage(TINY_COLOURS[colour!]!, 40));
  const csv = ['id,title,category,image', ...rows.map(([id, title, category]) => `${id},${title},${category},${id}.png`)].join('\n');
  await writeFile(path.join(work, 'shop.csv'), csv);
  const data = path.join(work, 'data');

  const indexed = await runCli(['index', path.join(work, 'shop.csv'), '--data', data, '--model', modelDir, '--no-detect']);
  assert.equal(indexed.code, 1, 'a failed line makes the run exit 1');
  const summary = JSON.parse(indexed.stdout) as { indexed: number; failed: Array<{ item: string; message: string }> };
  assert.equal(summary.indexed, 4);
  assert.equal(summary.failed.length, 1);
  assert.equal(summary.failed[0]!.item, 'shop.csv line 6');
  assert.match(summary.failed[0]!.message, /category: at most 200 characters/);

  const sofas = await runCli(['search', '--data', data, '--filter', 'category=Sofas', '--json']);
  assert.equal(sofas.code, 0, sofas.stderr);
  const found = JSON.parse(sofas.stdout) as SearchOutput;
  assert.deepEqual(found.results.map((r) => r.id).sort(), ['blue-sofa', 'red-sofa']);
  assert.ok(found.results.every((r) => r.why.includes('category=Sofas')));

  // Two values of one field are either; with words, both narrow.
  const either = JSON.parse((await runCli(['search', '--data', data, '--filter', 'category=Sofas', '--filter', 'category=Chairs', '--json'])).stdout) as SearchOutput;
  assert.deepEqual(either.results.map((r) => r.id).sort(), ['blue-sofa', 'red-sofa', 'yellow-chair']);
  assert.ok(JSON.stringify(either.facets.category).includes('Chairs'), JSON.stringify(either.facets));
  const words = JSON.parse((await runCli(['search', '--data', data, '--text', 'chair', '--filter', 'category=Chairs', '--json'])).stdout) as SearchOutput;
  assert.deepEqual(words.results.map((r) => r.id), ['yellow-chair'], 'words inside the category');
  const none = JSON.parse((await runCli(['search', '--data', data, '--text', 'sofa', '--filter', 'category=Chairs', '--json'])).stdout) as SearchOutput;
  assert.deepEqual(none.results, [], 'a picked category narrows the words, it does not fill the page with chairs');

  // Indexing the same file again: nothing changed, nothing rewritten.
  const again = JSON.parse((await runCli(['index', path.join(work, 'shop.csv'), '--data', data, '--model', modelDir, '--no-detect'])).stdout) as { unchanged: number };
  assert.equal(again.unchanged, 4);
});
