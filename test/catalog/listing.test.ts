// A listing's fields, defined once (src/catalog/listing.ts): the schema the sources parse
// with, the content hash (which must not move: catalogs store it), the fields reindex and
// the API's product view carry over.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { productHash } from '../../src/catalog/hash.ts';
import { LISTING_FIELD_NAMES, ListingFieldsSchema, listingFieldsOf, type ListingFields } from '../../src/catalog/listing.ts';
import { readSource, type Listing } from '../../src/catalog/sources.ts';
import { ProductSchema } from '../../src/server/schemas.ts';
import { tempDir } from '../helpers/tmp.ts';

const FULL = {
  id: 'sku-1',
  title: 'Red dress',
  description: 'Cotton, knee length',
  price: 49.9,
  currency: 'EUR',
  attributes: { size: 'M', tags: ['summer', 'red'] },
  images: [
    { path: '/photos/sku-1/a.jpg', contentHash: 'a'.repeat(64) },
    { path: '/photos/sku-1/b.jpg', contentHash: 'b'.repeat(64) },
  ],
};
const MINIMAL = { id: 'chair', title: 'chair', images: [{ path: '/photos/chair.jpg', contentHash: 'c'.repeat(64) }] };

describe('the content hash of a listing', () => {
  test('is what it was before the fields were unified (existing catalogs must not re-index everything)', () => {
    // Computed with src/catalog/hash.ts at commit 6ad8cc2, before this change.
    assert.equal(productHash(FULL), 'f1fc99ccdb2112bdad93c9c8f318146f4ddba6c6babb4a536da80e18a4c3eb25');
    assert.equal(productHash(MINIMAL), '2fc17a53d8033d9810290d2958a83afe77b0829a39000a3a61118bbdbdf92bab');
  });

  test('covers every listing field, and nothing else a product carries', () => {
    const other: ListingFields = { id: 'sku-2', title: 'Blue dress', description: 'Linen', price: 12, currency: 'USD', category: 'Dresses', attributes: { size: 'S' } };
    for (const name of LISTING_FIELD_NAMES) {
      assert.notEqual(productHash({ ...FULL, [name]: other[name] }), productHash(FULL), `${name} is not in the hash`);
    }
    // A stored product read back carries more than its listing: none of it is hashed.
    const readBack = { ...FULL, item: 'shop.csv line 2', productHash: 'x', modelVersion: 'm@1' };
    assert.equal(productHash(readBack), productHash(FULL));
  });

  test('a category changes the hash; no category (null, left out) hashes as before the field existed', () => {
    // The pinned hashes above are of listings without a category: null must hash as those did.
    assert.equal(productHash({ ...FULL, category: null }), 'f1fc99ccdb2112bdad93c9c8f318146f4ddba6c6babb4a536da80e18a4c3eb25');
    assert.equal(productHash({ ...MINIMAL, category: null }), '2fc17a53d8033d9810290d2958a83afe77b0829a39000a3a61118bbdbdf92bab');
    const sofas = productHash({ ...FULL, category: 'Sofas' });
    assert.notEqual(sofas, productHash(FULL));
    assert.notEqual(sofas, productHash({ ...FULL, category: 'Chairs' }));
  });

  test('fills left-out fields with the defaults of listingFieldsOf', () => {
    assert.equal(productHash(MINIMAL), productHash({ ...listingFieldsOf(MINIMAL), images: MINIMAL.images }));
    assert.deepEqual(listingFieldsOf(MINIMAL), { id: 'chair', title: 'chair', description: '', price: null, currency: null, category: null, attributes: {} });
  });
});

describe('ListingFieldsSchema', () => {
  test('takes a listing and refuses bad fields with their path', () => {
    const { images: _images, ...given } = FULL;
    const fields = { ...given, category: 'Dresses' };
    assert.deepEqual(ListingFieldsSchema.parse(fields), fields);
    // A category is trimmed; blank is no category.
    assert.equal(ListingFieldsSchema.parse({ ...fields, category: '  Home > Sofas ' }).category, 'Home > Sofas');
    assert.equal(ListingFieldsSchema.parse({ ...fields, category: '   ' }).category, null);
    assert.deepEqual(ListingFieldsSchema.parse({ ...fields, id: '  sku-1 ', price: null, currency: null }).id, 'sku-1');
    const bad: Array<[Partial<Record<keyof ListingFields, unknown>>, string]> = [
      [{ id: '' }, 'id'],
      [{ id: 'a\u0007b' }, 'id'],
      [{ title: 'x'.repeat(501) }, 'title'],
      [{ price: -1 }, 'price'],
      [{ price: Number.POSITIVE_INFINITY }, 'price'],
      [{ currency: 'eur' }, 'currency'],
      [{ attributes: [] }, 'attributes'],
      [{ category: 'x'.repeat(201) }, 'category'],
      [{ category: 'a\nb' }, 'category'],
      [{ category: 12 }, 'category'],
    ];
    for (const [patch, path] of bad) {
      const parsed = ListingFieldsSchema.safeParse({ ...fields, ...patch });
      assert.equal(parsed.success, false, JSON.stringify(patch));
      assert.deepEqual(parsed.error?.issues[0]?.path, [path]);
    }
  });

  test('the API answers each listing field of a product', () => {
    for (const name of LISTING_FIELD_NAMES) assert.ok(name in ProductSchema.shape, `${name} is missing from ProductSchema`);
  });
});

describe('sources read the listing fields by name', () => {
  test('a CSV: the fields are columns, any other column is an attribute, a bad field is named', async () => {
    const tmp = await tempDir();
    try {
      await writeFile(join(tmp.path, 'a.jpg'), 'not read here');
      const csv = ['id,title,description,price,currency,image,colour', 'sku-1,Red dress,Cotton,49.90,eur,a.jpg,red', 'sku-2,Shoe,,12,EURO,a.jpg,'].join('\n');
      await writeFile(join(tmp.path, 'shop.csv'), csv);
      const source = await readSource(join(tmp.path, 'shop.csv'));
      const [first, second] = source.entries;
      assert.ok(first && 'listing' in first);
      const listing: Listing = first.listing;
      assert.deepEqual(listingFieldsOf(listing), { id: 'sku-1', title: 'Red dress', description: 'Cotton', price: 49.9, currency: 'EUR', category: null, attributes: { colour: 'red' } });
      assert.ok(second && 'failure' in second);
      assert.equal(second.failure.message, 'An argument is missing or out of range: currency: currency must be a 3-letter code');
    } finally {
      await tmp.cleanup();
    }
  });

  test('a CSV category column is the listing category (blank: none); too long is refused by name', async () => {
    const tmp = await tempDir();
    try {
      await writeFile(join(tmp.path, 'a.jpg'), 'not read here');
      const csv = ['id,title,category,image,colour', 'sofa-1,Green sofa, Sofas ,a.jpg,green', 'lamp-1,Lamp,,a.jpg,', `chair-1,Chair,${'x'.repeat(201)},a.jpg,`].join('\n');
      await writeFile(join(tmp.path, 'shop.csv'), csv);
      const [sofa, lamp, chair] = (await readSource(join(tmp.path, 'shop.csv'))).entries;
      assert.ok(sofa && 'listing' in sofa && lamp && 'listing' in lamp);
      assert.equal(sofa.listing.category, 'Sofas');
      assert.deepEqual(sofa.listing.attributes, { colour: 'green' }, 'category is a field, not an attribute');
      assert.equal(lamp.listing.category, null);
      assert.ok(chair && 'failure' in chair);
      assert.equal(chair.failure.code, 'invalid_argument');
      assert.match(chair.failure.message, /category: at most 200 characters/);
    } finally {
      await tmp.cleanup();
    }
  });

  test('a JSONL category key is the listing category; left out is none; not text is refused by name', async () => {
    const tmp = await tempDir();
    try {
      await writeFile(join(tmp.path, 'a.jpg'), 'not read here');
      const lines = [
        { id: 'sofa-1', title: 'Green sofa', category: 'Living room > Sofas', image: 'a.jpg' },
        { id: 'lamp-1', title: 'Lamp', image: 'a.jpg' },
        { id: 'chair-1', title: 'Chair', category: ['Chairs'], image: 'a.jpg' },
      ];
      await writeFile(join(tmp.path, 'shop.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
      const [sofa, lamp, chair] = (await readSource(join(tmp.path, 'shop.jsonl'))).entries;
      assert.ok(sofa && 'listing' in sofa && lamp && 'listing' in lamp);
      assert.equal(sofa.listing.category, 'Living room > Sofas');
      assert.equal(lamp.listing.category, null);
      assert.ok(chair && 'failure' in chair);
      assert.match(chair.failure.message, /^An argument is missing or out of range: category: /);
    } finally {
      await tmp.cleanup();
    }
  });
});
