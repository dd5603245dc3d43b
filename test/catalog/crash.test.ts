// Crash safety: an ingest killed with SIGKILL at random moments never leaves a half-written
// product, and resuming gives exactly the expected catalog.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ingest } from '../../src/ingest/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { COOCCURRENCE_TABLE } from '../../src/catalog/cooccurrence.ts';
import { tableName } from '../../src/catalog/manifest.ts';
import { sha256 } from '../../src/catalog/hash.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { writeImage } from '../helpers/images.ts';
import { tempDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/ingest-child.ts', import.meta.url));
const PRODUCTS = 24;
const KILLS = 4;
let tmp: Awaited<ReturnType<typeof tempDir>>;

before(async () => {
  tmp = await tempDir();
  // Sub-folders with two images each: a torn write would show up as a one-image product.
  const colours = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];
  for (let i = 0; i < PRODUCTS; i++) {
    const colour = colours[i % colours.length]!;
    const dir = join(tmp.path, 'source', `p${String(i).padStart(2, '0')}`);
    await writeImage(join(dir, 'a.png'), { background: colour, shape: 'circle', foreground: 'white', offset: i % 5 });
    await writeImage(join(dir, 'b.png'), { background: colour, shape: 'square', foreground: 'black', offset: i % 7 });
  }
});
after(() => tmp.cleanup());

/** Runs the child and SIGKILLs it `delayMs` after its ingest starts writing. Resolves with whether it finished first. */
function runAndKill(data: string, delayMs: number): Promise<'killed' | 'finished'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, data, join(tmp.path, 'source'), '2', '25'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let finished = false;
    let armed = false;
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      // The first progress line comes once the source is read: the writes are about to start.
      if (!armed && text.includes('progress')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
      if (text.includes('done')) finished = true;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0 && finished) resolve('finished');
      else reject(new Error(`child exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

/** Every stored product must have all its image rows, and no row may be stored twice. */
async function assertNoTornProducts(catalog: CatalogStore): Promise<number> {
  const table = await catalog.table();
  if (!table) return 0;
  const rows = await table.query().select(['row_key', 'product_id', 'image_count']).toArray();
  const keys = rows.map((r) => String(r.row_key));
  assert.equal(new Set(keys).size, keys.length, 'no duplicate image rows');
  const perProduct = new Map<string, { count: number; expected: number }>();
  for (const row of rows) {
    const entry = perProduct.get(String(row.product_id)) ?? { count: 0, expected: Number(row.image_count) };
    entry.count++;
    perProduct.set(String(row.product_id), entry);
  }
  for (const [id, { count, expected }] of perProduct) {
    assert.equal(count, expected, `product ${id} has all its images`);
    assert.equal(expected, 2);
  }
  return perProduct.size;
}

test(`ingest killed ${KILLS} times with SIGKILL, then resumed, gives exactly the expected products`, { timeout: 60_000 }, async (t) => {
  const data = join(tmp.path, 'data');
  const seen: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    // Random moments across the ingest window (the child needs ~0.6 s for all batches).
    const outcome = await runAndKill(data, Math.floor(Math.random() * 500));
    const catalog = await openCatalog(data);
    seen.push(await assertNoTornProducts(catalog));
    await catalog.close();
    if (outcome === 'finished') break;
  }
  t.diagnostic(`products stored after each kill: ${seen.join(', ')}`);
  // Progress is monotonic: each run resumed where the last one was killed.
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!);

  const analyzer = createColourAnalyzer();
  const catalog = await openCatalog(data, { embeddingDim: analyzer.embeddingDim });
  const summary = await ingest(join(tmp.path, 'source'), { catalog, analyzer, batchSize: 2 });
  assert.equal(summary.failed.length, 0);
  assert.equal(summary.indexed + summary.unchanged, PRODUCTS);
  assert.equal(summary.unchanged, seen.at(-1));
  assert.equal(await assertNoTornProducts(catalog), PRODUCTS);
  const ids = (await catalog.listProducts({ limit: 100 })).map((p) => p.id);
  assert.deepEqual(ids, Array.from({ length: PRODUCTS }, (_, i) => `p${String(i).padStart(2, '0')}`));
  await catalog.close();
});

/** What a kill inside LanceDB's create leaves: the table folder with a transaction, no committed version. */
async function halfCreate(data: string, table: string): Promise<void> {
  await mkdir(join(data, `${table}.lance`, '_transactions'), { recursive: true });
}

test('a table whose create was killed before its first commit reads as absent and is created again', async () => {
  const data = join(tmp.path, 'half-created');
  const v1 = createColourAnalyzer({ modelVersion: 'colour@1' });
  const catalog = await openCatalog(data, { embeddingDim: v1.embeddingDim });
  await halfCreate(data, tableName(1));
  await halfCreate(data, COOCCURRENCE_TABLE);
  // Readers: no products, no links, no error.
  assert.equal(await catalog.table(), undefined);
  assert.equal(await catalog.countProducts(), 0);
  assert.deepEqual(await catalog.seenTogether('a'), []);
  // Writers: the folder is replaced by a real table.
  const products = [];
  for (const [id, background] of [['a', 'red'], ['b', 'blue']] as const) {
    const path = join(tmp.path, `half-${id}.png`);
    await writeImage(path, { background });
    const bytes = await readFile(path);
    const [analysis] = await v1.analyzeBuffers([bytes]);
    if (!analysis || analysis instanceof Error) throw new Error('analysis failed');
    products.push({ id, title: background, images: [{ path, contentHash: sha256(bytes), analysis }] });
  }
  assert.deepEqual(await catalog.insertProducts(products), { written: 2 });
  assert.deepEqual(await catalog.recordSeenTogether('a', [{ photo: '1'.repeat(64), products: ['a', 'b'] }]), { pairs: 1 });
  assert.deepEqual((await catalog.seenTogether('a')).map((link) => link.id), ['b']);

  // A reindex killed while creating its target: the next reindex starts clean and swaps.
  await halfCreate(data, tableName(2));
  const v2 = createColourAnalyzer({ modelVersion: 'colour@2' });
  const summary = await catalog.reindex(v2);
  assert.equal(summary.swapped, true);
  assert.equal(summary.reindexed, 2);
  await catalog.close();

  const reopened = await openCatalog(data);
  assert.equal(await reopened.countProducts(), 2);
  assert.equal((await reopened.getProduct('a'))?.modelVersion, 'colour@2');
  await reopened.close();
});
