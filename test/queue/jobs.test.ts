// The ingest job's listing is the listing's fields (src/catalog/listing.ts) plus where it came
// from and its images: a field added to the listing (category) travels through the queue.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LISTING_FIELD_NAMES } from '../../src/catalog/listing.ts';
import type { Listing } from '../../src/catalog/sources.ts';
import { IngestJobSchema, toJob } from '../../src/queue/jobs.ts';

const HASH = 'a'.repeat(64);
const LISTING: Listing = {
  item: 'shop.csv line 2',
  id: 'sofa-1',
  title: 'Green sofa',
  description: 'Three seats',
  price: 499,
  currency: 'EUR',
  category: 'Living room > Sofas',
  attributes: { colour: 'green' },
  images: ['/shop/sofa-1.jpg'],
};

describe('the ingest job schema', () => {
  test('carries every listing field, the category included, through a JSON round trip', () => {
    const job = toJob(LISTING, HASH);
    const parsed = IngestJobSchema.parse(JSON.parse(JSON.stringify(job)));
    assert.deepEqual(parsed.listing, LISTING);
    for (const name of LISTING_FIELD_NAMES) assert.ok(name in IngestJobSchema.shape.listing.shape, `${name} is not in the job`);
  });

  test('a job enqueued before categories existed runs as a listing without one', () => {
    const { category: _category, ...old } = LISTING;
    const parsed = IngestJobSchema.parse({ version: 1, productHash: HASH, listing: old });
    assert.equal(parsed.listing.category, null);
  });

  test('refuses a bad category or listing field with its path', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ category: 'x'.repeat(201) }, 'category'],
      [{ category: 7 }, 'category'],
      [{ price: -1 }, 'price'],
      [{ images: [] }, 'images'],
    ];
    for (const [patch, field] of bad) {
      const parsed = IngestJobSchema.safeParse({ version: 1, productHash: HASH, listing: { ...LISTING, ...patch } });
      assert.equal(parsed.success, false, JSON.stringify(patch));
      assert.deepEqual(parsed.error?.issues[0]?.path, ['listing', field]);
    }
  });
});
