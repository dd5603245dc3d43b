// The publish pipeline's failure rules, policy by policy: the request policy publishes a
// listing's photos all or none; the local and queue policies leave a bad photo out and
// report it; under every policy a photo whose garments cannot be measured is published
// without them, a garment measurer that refuses the batch fails it before anything is
// stored, and the holds on stored uploads are given back whatever the write did.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '../../src/catalog/hash.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { GroknetError } from '../../src/errors.ts';
import { garmentsBy } from '../../src/ingest/garments.ts';
import { LOCAL_POLICY, queuePolicy, REQUEST_POLICY, type PublishPolicy } from '../../src/ingest/policy.ts';
import { publish, type PhotoStore, type PublishListing } from '../../src/ingest/publish.ts';
import { TEXT_FILE } from '../helpers/bad-images.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { renderImage } from '../helpers/images.ts';
import { outfitPhoto, outfitSegmenter, OUTFITS, SCARF } from '../helpers/outfits.ts';
import { tempDir } from '../helpers/tmp.ts';

const analyzer = createColourAnalyzer();
let tmp: Awaited<ReturnType<typeof tempDir>>;
let red: Buffer;

before(async () => {
  tmp = await tempDir();
  red = await renderImage({ background: 'red' });
});
after(() => tmp.cleanup());

let catalogs = 0;
async function fresh(): Promise<CatalogStore> {
  return openCatalog(join(tmp.path, `data-${catalogs++}`), { embeddingDim: analyzer.embeddingDim });
}

/** Keeps uploads as files under tmp, as the server's image store does, counting saves and the holds still taken. */
function uploads(options: { failing?: boolean } = {}): PhotoStore & { saved: number; held: number } {
  const store = {
    saved: 0,
    held: 0,
    async save(bytes: Buffer) {
      if (options.failing) throw new GroknetError('store_error', 'the disk is gone');
      const contentHash = sha256(bytes);
      const path = join(tmp.path, 'uploads', `${contentHash}.png`);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
      store.saved++;
      store.held++;
      return { path, contentHash, release: () => void store.held-- };
    },
  };
  return store;
}

function listing(id: string, images: PublishListing['images']): PublishListing {
  return { item: `request ${id}`, id, title: `Product ${id}`, description: '', price: null, currency: null, category: null, attributes: {}, images };
}

describe('a photo that cannot be used', () => {
  test('request policy: the listing fails with the photo named, and nothing of it is stored', async () => {
    const catalog = await fresh();
    const photoStore = uploads();
    try {
      const { outcomes } = await publish([listing('two', [red, TEXT_FILE])], { catalog, analyzer, policy: REQUEST_POLICY, photoStore });
      const [outcome] = outcomes;
      assert.equal(outcome?.status, 'failed');
      assert.ok(outcome?.status === 'failed');
      assert.equal(outcome.error.code, 'not_an_image');
      assert.match(outcome.error.message, /^The file is not an image groknet can read: photo 2: /);
      assert.equal(photoStore.saved, 0, 'no photo of a failed listing is stored');
      assert.equal(await catalog.countProducts(), 0);

      // One photo: its own error, as the analyzer gave it.
      const [alone] = (await publish([listing('one', [TEXT_FILE])], { catalog, analyzer, policy: REQUEST_POLICY, photoStore })).outcomes;
      assert.ok(alone?.status === 'failed');
      assert.doesNotMatch(alone.error.message, /photo 1/);
    } finally {
      await catalog.close();
    }
  });

  for (const [name, policy] of [['local', LOCAL_POLICY], ['queue', queuePolicy(4)]] as Array<[string, PublishPolicy]>) {
    test(`${name} policy: the listing is published with its other photos, the bad one reported; without any, the listing fails`, async () => {
      const catalog = await fresh();
      const photoStore = uploads();
      try {
        const summary = await publish([listing('two', [red, TEXT_FILE]), listing('none', [TEXT_FILE])], { catalog, analyzer, policy, photoStore });
        const [two, none] = summary.outcomes;
        assert.deepEqual(two?.status === 'indexed' && two.notes.map((n) => [n.item, n.code]), [['request two: photo 2', 'not_an_image']]);
        assert.deepEqual(none?.status === 'failed' && [none.failure.item, none.failure.code], ['request none', 'not_an_image']);
        assert.deepEqual(summary.failed.map((f) => f.item), ['request two: photo 2', 'request none']);
        assert.equal((await catalog.getProduct('two'))?.images.length, 1);
        assert.equal(photoStore.held, 0, 'every hold given back after the write');
      } finally {
        await catalog.close();
      }
    });
  }

  test('a photo the store cannot keep fails the listing under the request policy (store_error), nothing written', async () => {
    const catalog = await fresh();
    try {
      const [outcome] = (await publish([listing('kept', [red])], { catalog, analyzer, policy: REQUEST_POLICY, photoStore: uploads({ failing: true }) })).outcomes;
      assert.deepEqual(outcome?.status === 'failed' && outcome.error.code, 'store_error');
      assert.equal(await catalog.countProducts(), 0);
    } finally {
      await catalog.close();
    }
  });
});

describe('garments', () => {
  test('a photo the segmenter fails on is published without garments under every policy, and reported', async () => {
    for (const policy of [REQUEST_POLICY, LOCAL_POLICY]) {
      const catalog = await fresh();
      try {
        const photo = await outfitPhoto(SCARF);
        const garments = garmentsBy(outfitSegmenter(undefined, { failWidths: [SCARF.width] }));
        const [outcome] = (await publish([listing('scarf', [photo])], { catalog, analyzer, policy, garments, photoStore: uploads() })).outcomes;
        assert.deepEqual(outcome?.status === 'indexed' && outcome.notes.map((n) => [n.item, n.code]), [['request scarf: photo 1', 'internal']]);
        assert.equal((await catalog.getProduct('scarf'))?.images[0]?.garments, undefined);
      } finally {
        await catalog.close();
      }
    }
  });

  test('a measurer that refuses the batch (a busy server segmenter) fails it before anything is stored', async () => {
    const catalog = await fresh();
    const photoStore = uploads();
    try {
      const busy = async () => Promise.reject(new GroknetError('overloaded', '9 photos are waiting for the segmenter'));
      await assert.rejects(publish([listing('dress', [await outfitPhoto(OUTFITS[0]!)])], { catalog, analyzer, policy: REQUEST_POLICY, garments: busy, photoStore }), { code: 'overloaded' });
      assert.equal(photoStore.saved, 0);
      assert.equal(await catalog.countProducts(), 0);
    } finally {
      await catalog.close();
    }
  });
});

test('holds on stored uploads are given back when the catalog refuses the write', async () => {
  const catalog = await fresh();
  const photoStore = uploads();
  const refusing = new Proxy(catalog, {
    get: (target, key) => (key === 'insertProducts' ? () => Promise.reject(new GroknetError('store_error', 'disk full')) : Reflect.get(target, key, target)),
  });
  try {
    const [outcome] = (await publish([listing('red', [red])], { catalog: refusing, analyzer, policy: REQUEST_POLICY, photoStore })).outcomes;
    assert.deepEqual(outcome?.status === 'failed' && outcome.error.code, 'store_error');
    assert.deepEqual([photoStore.saved, photoStore.held], [1, 0]);
  } finally {
    await catalog.close();
  }
});

test('photos given as bytes without a store to keep them fail, as a photo that cannot be stored', async () => {
  const catalog = await fresh();
  try {
    const [outcome] = (await publish([listing('red', [red])], { catalog, analyzer, policy: LOCAL_POLICY })).outcomes;
    assert.deepEqual(outcome?.status === 'failed' && outcome.error.code, 'invalid_argument');
  } finally {
    await catalog.close();
  }
});
