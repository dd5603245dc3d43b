// The groknet command end to end, as a user runs it: a child process per command.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { pngClaiming, TEXT_FILE, truncatedJpeg } from '../helpers/bad-images.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { runCli } from '../helpers/cli.ts';


const run = runCli;

let modelDir: string;
let work: string;

before(async () => {
  modelDir = (await createTinyModel()).dir;
  work = await mkdtemp(path.join(os.tmpdir(), 'groknet-cli-'));
});

test('analyze prints one JSON line per file in input order, error lines for bad files, exit 1', async () => {
  const files = {
    'red.png': await solidImage(TINY_COLOURS.red!),
    'empty.jpg': Buffer.alloc(0),
    'cut.jpg': await truncatedJpeg(),
    'notes.png': TEXT_FILE,
    'huge.png': pngClaiming(30000, 30000),
    'bomb.png': pngClaiming(100000, 100000, 64),
    'blue.jpg': await solidImage(TINY_COLOURS.blue!, 48, 'jpeg'),
  };
  const paths: string[] = [];
  for (const [name, bytes] of Object.entries(files)) {
    const file = path.join(work, name);
    await writeFile(file, bytes);
    paths.push(file);
  }
  const { code, stdout } = await run(['analyze', '--json', '--model', modelDir, ...paths, path.join(work, 'missing.png')]);
  assert.equal(code, 1);
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; heads?: Record<string, { top: Array<{ label: string }> }>; error?: { code: string }; embedding?: number[]; code?: string });
  assert.deepEqual(lines.map((l) => path.basename(l.file)), [...Object.keys(files), 'missing.png']);
  assert.deepEqual(lines.map((l) => l.error?.code ?? 'ok'), ['ok', 'empty_file', 'truncated', 'not_an_image', 'too_large', 'too_large', 'ok', 'file_not_found']);
  assert.equal(lines[0]!.heads!.colour!.top[0]!.label, 'red');
  assert.equal(lines[6]!.heads!.colour!.top[0]!.label, 'blue');
  assert.equal(lines[0]!.embedding!.length, 16);
  assert.match(lines[0]!.code!, /^[0-9a-f]{4}$/);
});

test('analyze walks directories; refuses bad options with exit 2', async () => {
  const dir = path.join(work, 'walk');
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  await writeFile(path.join(dir, 'a.png'), await solidImage(TINY_COLOURS.green!));
  await writeFile(path.join(dir, 'sub', 'b.png'), await solidImage(TINY_COLOURS.yellow!));
  await writeFile(path.join(dir, 'readme.txt'), 'not an image');
  const ok = await run(['analyze', '--json', '--model', modelDir, dir]);
  assert.equal(ok.code, 0);
  assert.deepEqual(ok.stdout.trim().split('\n').map((l) => path.basename((JSON.parse(l) as { file: string }).file)), ['a.png', 'b.png']);
  const bad = await run(['analyze', '--batch', '0', '--model', modelDir, dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /batch/);
  const unknown = await run(['analyze', '--frobnicate', dir]);
  assert.equal(unknown.code, 2);
});

test('index, then search by image, words and product, and list duplicates', async () => {
  const shop = path.join(work, 'shop');
  await mkdir(shop, { recursive: true });
  const listings = [
    { id: 'red-mug', title: 'Red mug', colour: 'red', price: 12 },
    { id: 'blue-mug', title: 'Blue mug', colour: 'blue', price: 14 },
    { id: 'yellow-sofa', title: 'Yellow mid-century loveseat', colour: 'yellow', price: 180 },
    { id: 'red-mug-again', title: 'Red mug (second listing)', colour: 'red', price: 11 },
  ];
  for (const l of listings) await writeFile(path.join(shop, `${l.id}.png`), await solidImage(TINY_COLOURS[l.colour]!, 40));
  await writeFile(path.join(shop, 'listings.jsonl'), listings.map((l) => JSON.stringify({ id: l.id, title: l.title, price: l.price, currency: 'EUR', image: `${l.id}.png` })).join('\n'));
  const data = path.join(work, 'data');
  const indexed = await run(['index', path.join(shop, 'listings.jsonl'), '--data', data, '--model', modelDir]);
  assert.equal(indexed.code, 0, indexed.stderr);
  const summary = JSON.parse(indexed.stdout) as { indexed: number; seenTogether: { products: number; photos: number; pairs: number; failed: unknown[] } };
  assert.equal(summary.indexed, 4);
  // The written listings' photos went through the detector (real CenterNet: plain colours show no products to link).
  assert.deepEqual(summary.seenTogether, { products: 4, photos: 4, pairs: 0, failed: [] });
  const again = await run(['index', path.join(shop, 'listings.jsonl'), '--data', data, '--model', modelDir]);
  assert.equal((JSON.parse(again.stdout) as { unchanged: number }).unchanged, 4);
  assert.equal((JSON.parse(again.stdout) as { seenTogether?: unknown }).seenTogether, undefined, 'nothing written, nothing to look at');

  const query = path.join(work, 'query.png');
  await writeFile(query, await solidImage(TINY_COLOURS.red!, 40));
  const byImage = await run(['search', '--data', data, '--model', modelDir, '--image', query, '--k', '3', '--json']);
  assert.equal(byImage.code, 0, byImage.stderr);
  const imageResults = (JSON.parse(byImage.stdout) as { results: Array<{ id: string; match: string }> }).results;
  assert.ok(['red-mug', 'red-mug-again'].includes(imageResults[0]!.id));
  assert.equal(imageResults[0]!.match, 'exact');

  const byWords = await run(['search', '--data', data, '--text', 'loveseat under 200', '--json']);
  assert.equal(byWords.code, 0, byWords.stderr);
  const words = JSON.parse(byWords.stdout) as { query: { filters: Record<string, unknown> }; results: Array<{ id: string; why: string[] }> };
  assert.equal(words.results[0]!.id, 'yellow-sofa');
  assert.ok(words.query.filters.price);

  // Bare words are the same query as --text; both at once is refused, naming the words.
  const bare = await run(['search', '--data', data, 'loveseat', 'under', '200', '--json']);
  assert.equal(bare.code, 0, bare.stderr);
  assert.deepEqual(JSON.parse(bare.stdout), words);
  const twice = await run(['search', '--data', data, '--text', 'mug', 'loveseat']);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /either --text "\.\.\." or bare words.*'loveseat'/);

  const byProduct = await run(['search', '--data', data, '--model', modelDir, '--product', 'red-mug', '--json']);
  assert.equal((JSON.parse(byProduct.stdout) as { results: Array<{ id: string }> }).results[0]!.id, 'red-mug-again');

  const filtered = await run(['search', '--data', data, '--text', 'mug', '--filter', 'price<=12', '--json']);
  const filteredIds = (JSON.parse(filtered.stdout) as { results: Array<{ id: string }> }).results.map((r) => r.id).sort();
  assert.deepEqual(filteredIds, ['red-mug', 'red-mug-again']);

  const dupes = await run(['duplicates', '--data', data, '--threshold', '0.99']);
  const groups = (JSON.parse(dupes.stdout) as { groups: Array<{ ids?: string[]; products?: Array<{ id: string }> }> }).groups;
  assert.ok(groups.length >= 1);

  const none = await run(['search', '--data', data, '--text', 'x', '--image', query]);
  assert.equal(none.code, 2);
  const injection = await run(['search', '--data', data, '--text', "'; DROP TABLE products; --", '--json']);
  assert.equal(injection.code, 0);
});

test('commands that read a catalog refuse a --data without one, and create nothing there', async () => {
  const missing = path.join(work, 'no-catalog-here');
  const commands = [
    ['search', '--data', missing, '--text', 'dress'],
    ['duplicates', '--data', missing],
    ['seen-together', '--data', missing, '--product', 'p1'],
    ['reindex', '--data', missing, '--model', modelDir],
  ];
  for (const args of commands) {
    const { code, stderr } = await run(args);
    assert.equal(code, 1, `${args[0]}: ${stderr}`);
    assert.match(stderr, new RegExp(`^groknet ${args[0]}: .*no catalog in .*no-catalog-here \\(build one with: groknet index SOURCE --data .*\\) \\[file_not_found\\]\\n$`));
  }
  await assert.rejects(stat(missing), { code: 'ENOENT' });
});

test('a command with --help prints its own usage line (exit 0); other unknown options still fail (exit 2)', async () => {
  const help = await run(['eval', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: groknet eval \[--model DIR\] \[--datasets DIR\]/);
  const viaHelp = await run(['help', 'train']);
  assert.equal(viaHelp.code, 0);
  assert.match(viaHelp.stdout, /^usage: groknet train CONFIG\.json/);
  const unknown = await run(['eval', '--surprise']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /surprise/);
  // After `--`, '--help' is a file name like any other, not a request for usage.
  const operand = await run(['analyze', '--model', modelDir, '--', '--help']);
  assert.equal(operand.code, 1, operand.stderr);
  assert.doesNotMatch(operand.stdout, /usage:/);
  assert.match(operand.stdout, /^--help\n  error file_not_found/);
});
