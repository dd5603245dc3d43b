// Seen-together linking as publishing does it (src/ingest/link.ts): a written batch's
// products are linked at once; the end of a run looks again at the products linked before
// its last batch; a stop, a changed file, a deleted product or a detector that cannot be
// opened are reported and never thrown. Scripted detector over the colour analyzer, as in
// test/pipelines/seen-together.test.ts.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import type { Detector } from '../../src/detect/detector.ts';
import { GroknetError } from '../../src/errors.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { SeenTogetherLinker, summarize } from '../../src/ingest/link.ts';
import { BASIC_COLOURS, createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { boxesInside, scenePhoto, scriptedDetector, type Block } from '../helpers/scripted-detector.ts';
import { tempDir } from '../helpers/tmp.ts';

const analyzer = createColourAnalyzer();
let tmp: Awaited<ReturnType<typeof tempDir>>;

// The outfit photo (300x200) shows the jeans and the cap; plain photos (64x64) only their own product.
const OUTFIT: Block[] = [
  { rgb: BASIC_COLOURS.blue!, at: [0.05, 0.1, 0.25, 0.8] },
  { rgb: BASIC_COLOURS.yellow!, at: [0.4, 0.1, 0.2, 0.3] },
];
const detector = scriptedDetector((image) => (image.width === 300 ? boxesInside(OUTFIT) : [{ at: [0.1, 0.1, 0.8, 0.8], cls: 'handbag' }]));
const plain = (rgb: readonly [number, number, number]) => scenePhoto(64, 64, [{ rgb, at: [0, 0, 1, 1] }]);
const IDS = ['outfit', 'jeans', 'cap', 'bag'];

before(async () => {
  tmp = await tempDir();
});
after(() => tmp.cleanup());

/** The four listings' photos in `dir`, with a JSONL of each alone (`<id>.jsonl`) and of all four in order (`shop.jsonl`). */
async function shopIn(name: string): Promise<string> {
  const dir = join(tmp.path, name);
  await mkdir(dir);
  const files: Record<string, Buffer> = {
    outfit: await scenePhoto(300, 200, OUTFIT),
    jeans: await plain(BASIC_COLOURS.blue!),
    cap: await plain(BASIC_COLOURS.yellow!),
    bag: await plain(BASIC_COLOURS.green!),
  };
  const line = (id: string) => JSON.stringify({ id, title: id, image: `${id}.png` });
  for (const [id, bytes] of Object.entries(files)) {
    await writeFile(join(dir, `${id}.png`), bytes);
    await writeFile(join(dir, `${id}.jsonl`), line(id));
  }
  // The outfit comes first: its companions are written after it.
  await writeFile(join(dir, 'shop.jsonl'), IDS.map(line).join('\n'));
  return dir;
}

async function fresh(name: string): Promise<CatalogStore> {
  return openCatalog(join(tmp.path, name, 'data'), { embeddingDim: analyzer.embeddingDim });
}

const around = async (catalog: CatalogStore, id: string) => (await catalog.seenTogether(id)).map((l) => `${l.id}:${l.count}`).sort();

test("a written batch's products are linked with what their photos show; a changed file and a deleted product are reported, not thrown", async () => {
  const dir = await shopIn('batch');
  const catalog = await fresh('batch');
  try {
    assert.equal((await ingest(join(dir, 'shop.jsonl'), { catalog, analyzer })).indexed, 4);
    // bag's file changes after indexing: reported; the others are linked.
    await writeFile(join(dir, 'bag.png'), await plain(BASIC_COLOURS.purple!));
    const linker = new SeenTogetherLinker({ catalog, analyzer, detector });
    const linked = await linker.linkWritten(['outfit', 'jeans', 'cap', 'bag', 'gone']);
    assert.deepEqual(Object.fromEntries([...linked].map(([id, l]) => [id, l.status])), { outfit: 'linked', jeans: 'linked', cap: 'linked', bag: 'linked', gone: 'gone' });
    const outfit = linked.get('outfit');
    assert.deepEqual(outfit?.status === 'linked' && [...outfit.found].sort(), ['cap', 'jeans']);
    const bag = linked.get('bag');
    assert.deepEqual(bag?.status === 'linked' && bag.failed.map((f) => [f.item.split(':')[0], f.code]), [['bag', 'invalid_argument']]);
    assert.deepEqual(summarize(linked), { products: 4, photos: 3, pairs: 3, failed: bag?.status === 'linked' ? bag.failed : [] }, 'outfit-jeans, outfit-cap, jeans-cap');
    assert.deepEqual(await around(catalog, 'outfit'), ['cap:1', 'jeans:1']);
    assert.deepEqual(await around(catalog, 'jeans'), ['cap:1', 'outfit:1']);
    assert.deepEqual(await around(catalog, 'bag'), []);
  } finally {
    await catalog.close();
  }
});

test('the end of a run looks again at the products linked before its last batch: an outfit written before its companions gets their links', async () => {
  const dir = await shopIn('run');
  const catalog = await fresh('run');
  try {
    const linker = new SeenTogetherLinker({ catalog, analyzer, detector });
    // Batches of one, as a worker taking one job at a time writes them.
    for (const id of ['outfit', 'jeans', 'cap']) {
      await ingest(join(dir, `${id}.jsonl`), { catalog, analyzer, optimize: false });
      await linker.linkWritten([id]);
    }
    assert.deepEqual(await around(catalog, 'outfit'), [], 'its photo was searched before jeans and cap were in the catalog');
    const calls = detector.calls;
    const progress: number[] = [];
    const end = await linker.finishRun({ onProgress: (done) => progress.push(done) });
    assert.equal(end.relinked.products, 2, 'outfit and jeans; cap was linked last, after everything else was written');
    assert.deepEqual(progress, [1, 2]);
    assert.equal(detector.calls - calls, 2);
    assert.equal(end.notRelinked, 0);
    assert.deepEqual(end.run, { products: 3, photos: 3, pairs: 3, failed: [] }, "the run's products as their latest linking left them");
    assert.deepEqual(await around(catalog, 'outfit'), ['cap:1', 'jeans:1']);
    assert.deepEqual(await around(catalog, 'cap'), ['jeans:1', 'outfit:1']);
    // The next run starts empty: nothing to look at again.
    assert.deepEqual((await linker.finishRun()).relinked, { products: 0, photos: 0, pairs: 0, failed: [] });
  } finally {
    await catalog.close();
  }
});

test("a stop ends the second look between products; a run's size can be bounded, keeping the most recent", async () => {
  const dir = await shopIn('stop');
  const catalog = await fresh('stop');
  try {
    assert.equal((await ingest(join(dir, 'shop.jsonl'), { catalog, analyzer })).indexed, 4);
    const linker = new SeenTogetherLinker({ catalog, analyzer, detector });
    for (const id of IDS) await linker.linkWritten([id]);
    const stop = new AbortController();
    const end = await linker.finishRun({ signal: stop.signal, onProgress: (done) => void (done === 1 && stop.abort()) });
    assert.deepEqual([end.relinked.products, end.notRelinked], [1, 2], 'outfit looked at again; jeans and cap not');

    const bounded = new SeenTogetherLinker({ catalog, analyzer, detector, remember: 2 });
    for (const id of IDS) await bounded.linkWritten([id]);
    const calls = detector.calls;
    const last = await bounded.finishRun();
    assert.deepEqual([last.relinked.products, detector.calls - calls], [1, 1], 'of outfit, jeans, cap, bag only cap and bag are remembered; bag was last');
  } finally {
    await catalog.close();
  }
});

test('a detector that cannot be opened fails the linking of each product, once opened per linker, and throws nothing', async () => {
  const dir = await shopIn('broken');
  const catalog = await fresh('broken');
  try {
    assert.equal((await ingest(join(dir, 'shop.jsonl'), { catalog, analyzer })).indexed, 4);
    let opens = 0;
    const linker = new SeenTogetherLinker({
      catalog,
      analyzer,
      detector: async (): Promise<Detector> => {
        opens++;
        throw new GroknetError('model_not_found', 'no detector here');
      },
    });
    const linked = await linker.linkWritten(['outfit', 'jeans']);
    assert.deepEqual([...linked.values()].map((l) => l.status === 'failed' && [l.failure.item, l.failure.code]), [['outfit', 'model_not_found'], ['jeans', 'model_not_found']]);
    assert.equal(opens, 1);
    assert.deepEqual(await around(catalog, 'outfit'), []);
  } finally {
    await catalog.close();
  }
});

describe('ingest (`groknet index`) with a detector', () => {
  test('a run stopped between batches has linked every listing it wrote, and says which were not looked at again', async () => {
    const dir = await shopIn('stopped');
    // The companions first, then the outfit, then the bag: stopped once the outfit's batch is written.
    await writeFile(join(dir, 'shop.jsonl'), ['jeans', 'cap', 'outfit', 'bag'].map((id) => JSON.stringify({ id, title: id, image: `${id}.png` })).join('\n'));
    const catalog = await fresh('stopped');
    try {
      const stop = new AbortController();
      const summary = await ingest(join(dir, 'shop.jsonl'), { catalog, analyzer, detector, batchSize: 1, signal: stop.signal, onProgress: (p) => void (p.done === 3 && stop.abort()) });
      assert.deepEqual([summary.indexed, summary.aborted], [3, true]);
      assert.deepEqual(summary.seenTogether, { products: 3, photos: 3, pairs: 3, failed: [] }, 'the three written listings were linked');
      assert.deepEqual(await around(catalog, 'outfit'), ['cap:1', 'jeans:1']);
      assert.equal(summary.notRelinked, 2, 'jeans and cap, written before the last batch, were not looked at again');

      // The rerun writes the bag and links it; the others are unchanged and keep their links.
      const rerun = await ingest(join(dir, 'shop.jsonl'), { catalog, analyzer, detector, batchSize: 1 });
      assert.deepEqual([rerun.indexed, rerun.unchanged, rerun.seenTogether?.products], [1, 3, 1]);
      assert.deepEqual(await around(catalog, 'jeans'), ['cap:1', 'outfit:1']);
    } finally {
      await catalog.close();
    }
  });

  test('a detector that cannot be opened fails the linking, not the run: the listings are written and the summary says why they are not linked', async () => {
    const dir = await shopIn('no-detector');
    const catalog = await fresh('no-detector');
    try {
      const missing = async (): Promise<Detector> => Promise.reject(new GroknetError('model_not_found', 'no detector here'));
      const summary = await ingest(join(dir, 'shop.jsonl'), { catalog, analyzer, detector: missing });
      assert.deepEqual([summary.indexed, summary.failed], [4, []]);
      assert.deepEqual(summary.seenTogether && [summary.seenTogether.products, summary.seenTogether.failed.map((f) => [f.item, f.code])], [0, IDS.map((id) => [id, 'model_not_found'])]);
      assert.equal(await catalog.countProducts(), 4);
    } finally {
      await catalog.close();
    }
  });

  test('a listing written before the products its photo shows is linked with them by the end of the run', async () => {
    const dir = await shopIn('whole');
    const catalog = await fresh('whole');
    try {
      const summary = await ingest(join(dir, 'shop.jsonl'), { catalog, analyzer, detector, batchSize: 1 });
      assert.deepEqual(summary.seenTogether, { products: 4, photos: 4, pairs: 3, failed: [] });
      assert.equal(summary.notRelinked, 0);
      assert.deepEqual(await around(catalog, 'outfit'), ['cap:1', 'jeans:1']);
      // Nothing written, nothing linked: no detector is opened for an unchanged rerun.
      let opened = 0;
      const again = await ingest(join(dir, 'shop.jsonl'), { catalog, analyzer, detector: async () => (opened++, detector) });
      assert.deepEqual([again.unchanged, again.seenTogether, opened], [4, undefined, 0]);
    } finally {
      await catalog.close();
    }
  });
});
