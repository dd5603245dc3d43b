// `groknet seen-together` as a user runs it, over a catalog with recorded links.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openCatalog } from '../../src/catalog/open.ts';
import { productFrom } from '../helpers/catalog.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { tempDir } from '../helpers/tmp.ts';
import { runCli } from '../helpers/cli.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: string;

const run = runCli;

before(async () => {
  tmp = await tempDir();
  data = join(tmp.path, 'data');
  const analyzer = createColourAnalyzer();
  const catalog = await openCatalog(data, { embeddingDim: analyzer.embeddingDim });
  const colours = { tee: '#dc1e1e', jeans: '#1e46dc', cap: '#f5dc14', lonely: '#28aa3c' };
  await catalog.insertProducts(await Promise.all(Object.entries(colours).map(([id, background]) => productFrom(analyzer, id, [{ background }], { title: `The ${id}` }))));
  const photo = (n: number) => String(n).padStart(64, '0');
  await catalog.recordSeenTogether('tee', [
    { photo: photo(1), products: ['tee', 'jeans', 'cap'] },
    { photo: photo(2), products: ['tee', 'jeans'] },
  ]);
  await catalog.close();
});
after(async () => tmp?.cleanup());

test('prints the products seen together, most photos first, as JSON or text', async () => {
  const json = await run(['seen-together', '--product', 'tee', '--data', data, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const body = JSON.parse(json.stdout) as { productId: string; results: Array<{ id: string; title: string; count: number; lastSeen: string }> };
  assert.equal(body.productId, 'tee');
  assert.deepEqual(body.results.map((r) => [r.id, r.title, r.count]), [['jeans', 'The jeans', 2], ['cap', 'The cap', 1]]);
  assert.ok(!Number.isNaN(Date.parse(body.results[0]!.lastSeen)));

  const limited = JSON.parse((await run(['seen-together', '--product', 'tee', '--data', data, '--json', '--k', '1'])).stdout) as typeof body;
  assert.deepEqual(limited.results.map((r) => r.id), ['jeans']);

  const text = await run(['seen-together', '--product', 'jeans', '--data', data]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /seen together with jeans \(The jeans\)/);
  assert.match(text.stdout, /\n\s+2 {2}tee {2}The tee\n\s+1 {2}cap {2}The cap\n$/);
  assert.match((await run(['seen-together', '--product', 'lonely', '--data', data])).stdout, /nothing seen together with lonely/);
});

test('an unknown product exits 1 with not_found; a missing --product exits 2', async () => {
  const unknown = await run(['seen-together', '--product', 'nope', '--data', data]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /not_found/);
  const missing = await run(['seen-together', '--data', data]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /usage: groknet seen-together/);
  assert.equal((await run(['seen-together', '--product', 'tee', '--data', data, '--k', '0'])).code, 2);
});
