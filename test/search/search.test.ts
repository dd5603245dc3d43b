import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openCatalog } from '../../src/catalog/open.ts';
import { computeFacets } from '../../src/search/facets.ts';
import { findDuplicates } from '../../src/search/duplicates.ts';
import { buildWhere, validateFilters } from '../../src/search/filters.ts';
import { searchBinary } from '../../src/search/search-binary.ts';
import { listingWords, searchText, styleNotes } from '../../src/search/search-text.ts';
import { searchByImage, sureLabels } from '../../src/search/search.ts';
import { SAME_PHOTO_SIMILARITY, searchVector } from '../../src/search/search-vector.ts';
import type { Analysis } from '../../src/model/types.ts';
import type { ProductInput } from '../../src/catalog/types.ts';
import { productFrom } from '../helpers/catalog.ts';
import { renderImage } from '../helpers/images.ts';
import { buildShop, SHOP, type Shop } from '../helpers/shop.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let shop: Shop;

async function analyse(bytes: Buffer): Promise<Analysis> {
  const [a] = await shop.analyzer.analyzeBuffers([bytes]);
  if (!a || a instanceof Error) throw a;
  return a;
}

before(async () => {
  tmp = await tempDir();
  shop = await buildShop(tmp.path);
});
after(async () => {
  await shop.catalog.close();
  await tmp.cleanup();
});

describe('vector search', () => {
  test('the same image ranks first as exact; a similar one ranks above different ones', async () => {
    const response = await searchByImage(shop.catalog, shop.analyzer, shop.bytes.get('sofa-yellow')!, { limit: 5 });
    const [first, second] = response.results;
    assert.equal(first?.id, 'sofa-yellow');
    assert.equal(first?.match, 'exact');
    assert.ok(first!.score > 0.999);
    assert.match(first!.why[0]!, /^image similarity 1\.000 \(exact/);
    assert.equal(second?.id, 'sofa-yellow-2', 'the other yellow sofa is the nearest different product');
    assert.equal(second?.match, 'similar');
    const blue = response.results.findIndex((r) => r.id === 'sofa-blue');
    assert.ok(blue === -1 || blue > 1);
    assert.equal(response.query.kind, 'image');
    assert.ok(response.facets.colour);
  });

  test('exact only where the model is sure of the heads its threshold was calibrated on; elsewhere only the same photo', async () => {
    const { embedding } = await analyse(shop.bytes.get('sofa-yellow')!);
    // A threshold every product clears, so only the calibration heads decide.
    const loose = { limit: 4, exactMatchThreshold: -1 };
    // Every shop product has a sure `type`: calibrated there, all are exact.
    const sure = await searchVector(shop.catalog, embedding, { ...loose, exactMatchHeads: ['type'] });
    assert.ok(sure.results.length === 4 && sure.results.every((r) => r.match === 'exact'));
    assert.match(sure.results[1]!.why[0]!, /calibrated on photos sure of type, with the same label\)/);
    // A head no product has a label for (calibrated elsewhere): the same photo is still exact, nothing else is.
    const elsewhere = await searchVector(shop.catalog, embedding, { ...loose, exactMatchHeads: ['type', 'grocery_fine'] });
    assert.equal(elsewhere.results[0]?.id, 'sofa-yellow');
    assert.equal(elsewhere.results[0]?.match, 'exact');
    assert.match(elsewhere.results[0]!.why[0]!, /the same photo/);
    assert.ok(elsewhere.results.slice(1).every((r) => r.match === 'similar' && r.score < SAME_PHOTO_SIMILARITY));
    assert.match(elsewhere.results[1]!.why[0]!, /\(similar; exact is only claimed for photos sure of type and grocery_fine, with the same label, where its threshold was calibrated, or for the same photo\)$/);
    // With the model's verticals the reason names the kind of product, not internal head names.
    const named = await searchVector(shop.catalog, embedding, { ...loose, exactMatchHeads: ['grocery_fine'], headVerticals: { grocery_fine: 'grocery' } });
    assert.match(named.results[1]!.why[0]!, /\(similar; exact is only claimed for grocery products, where its threshold was calibrated, or for the same photo\)$/);
    assert.doesNotMatch(named.results[1]!.why[0]!, /grocery_fine/);
    // Below the threshold where it was not calibrated: not "exact needs >= t", which no similarity would make true.
    const strict = await searchVector(shop.catalog, embedding, { limit: 4, exactMatchThreshold: 0.99999, exactMatchHeads: ['grocery_fine'], headVerticals: { grocery_fine: 'grocery' } });
    assert.match(strict.results[1]!.why[0]!, /\(similar; exact is only claimed for grocery products, where its threshold was calibrated, or for the same photo\)$/);
    const calibrated = await searchVector(shop.catalog, embedding, { limit: 4, exactMatchThreshold: 0.99999, exactMatchHeads: ['type'] });
    assert.match(calibrated.results[1]!.why[0]!, /\(similar; exact needs >= 0\.99999\)$/);
    // The query photo must be sure of the same label: a photo the model calls a lamp gets no exact sofa but its own photo.
    const asLamp = await searchVector(shop.catalog, embedding, { ...loose, exactMatchHeads: ['type'], exactMatchQuery: { type: 'lamp' } });
    assert.deepEqual(asLamp.results.map((r) => r.match), ['exact', 'similar', 'similar', 'similar']);
    const asSofa = await searchVector(shop.catalog, embedding, { ...loose, exactMatchHeads: ['type'], exactMatchQuery: { type: 'sofa' } });
    assert.deepEqual(asSofa.results.filter((r) => r.match === 'exact').map((r) => r.id).sort(), asSofa.results.filter((r) => r.id.startsWith('sofa')).map((r) => r.id).sort());
    // Without calibration heads (a model calibrated on every photo), the threshold alone decides.
    const everywhere = await searchVector(shop.catalog, embedding, loose);
    assert.ok(everywhere.results.every((r) => r.match === 'exact'));
  });

  test('a photo query\'s facets keep only its own vertical\'s heads, once the model is sure of it', async () => {
    const { embedding } = await analyse(shop.bytes.get('sofa-yellow')!);
    const base = { limit: 4, exactMatchThreshold: 0.9, headVerticals: { type: 'home', colour: 'fashion' } };
    // The photo is sure it shows groceries: the home head `type` offers no facet; colour stays (measured where its head is gated).
    const grocery = await searchVector(shop.catalog, embedding, { ...base, exactMatchQuery: { vertical: 'grocery' } });
    assert.equal(grocery.facets.type, undefined);
    assert.ok(grocery.facets.colour);
    // Sure of home, not sure of any vertical, or no verticals known: the head's facet is there.
    for (const options of [{ ...base, exactMatchQuery: { vertical: 'home' } }, base, { limit: 4, exactMatchThreshold: 0.9, exactMatchQuery: { vertical: 'grocery' } }]) {
      const response = await searchVector(shop.catalog, embedding, options);
      assert.ok(response.facets.type && Object.keys(response.facets.type).length > 0, JSON.stringify(options));
    }
  });

  test('a photo\'s sure labels: single-label heads that did not abstain', () => {
    const analysis = {
      heads: {
        colour: { kind: 'single' as const, top: [{ label: 'red', score: 0.9 }] },
        type: { kind: 'single' as const, top: [{ label: 'sofa', score: 0.2 }], abstain: true },
        tags: { kind: 'multi' as const, labels: [{ label: 'wool', score: 0.8 }] },
      },
      embedding: new Float32Array(2),
      code: '00',
      modelVersion: 'x@1',
    };
    assert.deepEqual(sureLabels(analysis), { colour: 'red' });
  });

  test('a re-encoded copy (JPEG) is still an exact match', async () => {
    const jpeg = await renderImage({ ...SHOP.find((s) => s.id === 'lamp-black')!.image, format: 'jpeg' });
    const response = await searchByImage(shop.catalog, shop.analyzer, jpeg, { limit: 3 });
    assert.equal(response.results[0]?.id, 'lamp-black');
    assert.equal(response.results[0]?.match, 'exact');
  });

  test('filters restrict the neighbours and are explained', async () => {
    const { embedding } = await analyse(shop.bytes.get('sofa-yellow')!);
    const response = await searchVector(shop.catalog, embedding, {
      limit: 10,
      exactMatchThreshold: shop.analyzer.exactMatchThreshold,
      filters: { price: { gte: 100, lte: 200 }, type: { eq: 'sofa' } },
    });
    assert.deepEqual(response.results.map((r) => r.id), ['sofa-yellow', 'sofa-blue']);
    assert.ok(response.results[1]!.why.includes('price 120 >= 100 and <= 200'));
    assert.ok(response.results[1]!.why.includes('type=sofa (predicted 0.88)'));
    const excluded = await searchVector(shop.catalog, embedding, {
      exactMatchThreshold: 0.98,
      excludeIds: ['sofa-yellow'],
      limit: 1,
    });
    assert.equal(excluded.results[0]?.id, 'sofa-yellow-2');
  });

  test('wrong dimension, bad limit and unknown filters are refused', async () => {
    await assert.rejects(searchVector(shop.catalog, new Float32Array(3), { exactMatchThreshold: 0.9 }), { code: 'invalid_argument' });
    const { embedding } = await analyse(shop.bytes.get('tee-red')!);
    await assert.rejects(searchVector(shop.catalog, embedding, { exactMatchThreshold: 0.9, limit: 0 }), { code: 'query_invalid' });
    await assert.rejects(
      searchVector(shop.catalog, embedding, { exactMatchThreshold: 0.9, filters: { 'price; DROP TABLE x': { eq: 1 } } }),
      { code: 'query_invalid' },
    );
    await assert.rejects(searchByImage(shop.catalog, shop.analyzer, Buffer.from('not an image')), { code: 'not_an_image' });
  });
});

describe('binary search', () => {
  test('hamming pre-filter finds the identical code first; re-ranking by cosine agrees', async () => {
    const analysis = await analyse(shop.bytes.get('pants-green')!);
    const plain = await searchBinary(shop.catalog, analysis.code, { limit: 3, exactMatchThreshold: 0.98 });
    assert.equal(plain.results[0]?.id, 'pants-green');
    assert.equal(plain.results[0]?.match, 'exact');
    assert.match(plain.results[0]!.why[0]!, /^hamming distance 0\/64$/);

    const reranked = await searchBinary(shop.catalog, analysis.code, {
      limit: 3,
      rerank: true,
      embedding: analysis.embedding,
      exactMatchThreshold: 0.98,
    });
    assert.equal(reranked.results[0]?.id, 'pants-green');
    assert.equal(reranked.results[0]?.match, 'exact');
    assert.ok(reranked.results[0]!.score > 0.999);
    for (let i = 1; i < reranked.results.length; i++) assert.ok(reranked.results[i - 1]!.score >= reranked.results[i]!.score);
  });

  test('bad codes and a missing embedding for re-ranking are refused', async () => {
    await assert.rejects(searchBinary(shop.catalog, 'xyz', { exactMatchThreshold: 0.98 }), { code: 'invalid_argument' });
    await assert.rejects(searchBinary(shop.catalog, `'${'0'.repeat(15)}`, { exactMatchThreshold: 0.98 }), { code: 'invalid_argument' });
    await assert.rejects(searchBinary(shop.catalog, '0'.repeat(16), { exactMatchThreshold: 0.98, rerank: true }), { code: 'invalid_argument' });
  });
});

describe('text search', () => {
  test('yellow mid-century loveseat under 200: the price is a filter, the words are text and soft label evidence, explained', async () => {
    const response = await searchText(shop.catalog, 'yellow mid-century loveseat under 200');
    // Only the price phrase filters; yellow and loveseat (-> sofa) are evidence, not filters.
    assert.deepEqual(response.query.filters, { price: { lte: 200 } });
    assert.deepEqual(response.query.terms, ['mid-century']);
    assert.deepEqual(response.query.recognised?.map((r) => `${r.field}=${r.value}`), ['price=under 200', 'colour=yellow', 'type=sofa']);
    // The yellow loveseat first; the blue sofa (mid-century in its description, a sofa) after it, not removed.
    assert.deepEqual(response.results.map((r) => r.id), ['sofa-yellow', 'sofa-blue']);
    const [hit, second] = response.results;
    assert.equal(hit?.match, 'text');
    assert.ok(hit!.score > second!.score);
    assert.ok(hit!.why.includes('title matches "mid-century"'), hit!.why.join('; '));
    assert.ok(hit!.why.includes('title matches "loveseat"'), hit!.why.join('; '));
    assert.ok(hit!.why.some((w) => /^colour=yellow \(predicted 0\.\d\d\)$/.test(w)), hit!.why.join('; '));
    assert.ok(hit!.why.includes('type=sofa (predicted 0.88)'));
    assert.ok(hit!.why.includes('price 150 <= 200'));
    assert.ok(!second!.why.some((w) => w.startsWith('colour=')), 'the blue sofa is not explained as yellow');
    assert.deepEqual(response.facets.type, { sofa: 2 });
    // Style is not learned: the answer says the word was matched as text only.
    assert.equal(response.notes?.length, 1);
    assert.match(response.notes![0]!, /^"mid century": style is not something the model can see/);
  });

  test('a query without style words carries no notes; a style word the catalog labels is not noted', () => {
    assert.deepEqual(styleNotes('yellow loveseat', []), []);
    assert.equal(styleNotes('Vintage  dress', []).length, 1);
    assert.deepEqual(styleNotes('vintage dress', [{ phrase: 'vintage', field: 'style', value: 'vintage' }]), []);
  });

  test('a word the model guessed wrong does not hide the listing that says it', async () => {
    // The photo of the "Cotton tee" is red; its type head says t-shirt. A buyer asking for a
    // green tee still finds it first (its words say tee), and is not told the colour matched.
    const response = await searchText(shop.catalog, 'green tee');
    assert.equal(response.results[0]?.id, 'tee-red');
    assert.deepEqual(response.query.filters, {});
    assert.ok(!response.results[0]!.why.some((w) => w.startsWith('colour=')), response.results[0]!.why.join('; '));
    // The green trousers come in on the colour evidence alone, below the listing whose words match.
    const trousers = response.results.find((r) => r.id === 'pants-green');
    assert.ok(trousers && trousers.match === 'filter' && trousers.score < response.results[0]!.score, JSON.stringify(response.results));
    assert.ok(trousers.why.includes('no words of the listing match "tee" "green"') || trousers.why.includes('no words of the listing match "green" "tee"'), trousers.why.join('; '));
    // A long query is summed up in that reason, not repeated word by word in every result.
    const long = await searchText(shop.catalog, 'green tee with long sleeves in soft cotton for a summer picnic');
    const reason = long.results.find((r) => r.id === 'pants-green')?.why.find((w) => w.startsWith('no words'));
    assert.ok(reason && reason.length < 120 && / more of the query's words\)$/.test(reason), reason);
  });

  test('an exact title finds its listing first', async () => {
    for (const item of SHOP) {
      const response = await searchText(shop.catalog, item.title);
      assert.equal(response.results[0]?.id, item.id, `${item.title}: ${response.results.map((r) => r.id).join(', ')}`);
      assert.ok(response.results[0]!.why.includes('title is the query'), item.title);
    }
  });

  test('words match title or description; filter-only matches rank below word matches', async () => {
    const response = await searchText(shop.catalog, 'mid-century sofa');
    const ids = response.results.map((r) => r.id);
    // sofa-yellow: title; sofa-blue: description; sofa-yellow-2 has neither word.
    assert.deepEqual(ids.slice(0, 2).sort(), ['sofa-blue', 'sofa-yellow']);
    assert.equal(ids[2], 'sofa-yellow-2');
    assert.equal(response.results[2]!.match, 'filter');
    assert.ok(response.results.find((r) => r.id === 'sofa-blue')!.why.includes('description matches "mid-century"'));
    assert.deepEqual(response.facets.type, { sofa: 3 });
    assert.deepEqual(response.facets.colour, { yellow: 2, blue: 1 });
    assert.deepEqual(response.facets.price, { '100-500': 3 });
    const strict = await searchText(shop.catalog, 'mid-century sofa', { includeFilterOnly: false });
    assert.equal(strict.results.length, 2);
  });

  test('synonyms and structured filters combine; explicit filters win', async () => {
    const tee = await searchText(shop.catalog, 'tee');
    assert.equal(tee.results[0]?.id, 'tee-red');
    const trousers = await searchText(shop.catalog, 'trousers', { filters: { price: { lt: 30 } } });
    assert.deepEqual(trousers.results, []);
    const sneakers = await searchText(shop.catalog, 'sneakers over 50');
    assert.equal(sneakers.results[0]?.id, 'shoes-white');
    assert.ok(sneakers.results[0]!.why.includes('title matches "sneakers"') || sneakers.results[0]!.why.some((w) => w.startsWith('type=shoes')));
    const cheap = await searchText(shop.catalog, 'mug', { filters: { price: { lte: 8 } }, limit: 5 });
    assert.deepEqual(cheap.results.map((r) => r.id), ['mug-1-copy']);
  });

  test('injection strings are only ever values or words', async () => {
    const before = await shop.catalog.countProducts();
    // Each string's exact outcome: refused, or searched as the plain words listed (none of which is in
    // the shop, so nothing matches) with the products they find. "sofa" is a recognised category: the
    // three sofas, and only those, prove the rest of the string did not widen or empty the search.
    const hostile: Array<[text: string, expected: 'query_invalid' | { terms: string[]; ids: string[] }]> = [
      [`'; DROP TABLE images_1; --`, { terms: ['drop', 'table', 'images', '1'], ids: [] }],
      [`" OR ""="`, 'query_invalid'],
      [`1=1 OR 1=1`, { terms: ['1'], ids: [] }],
      [`x' OR '1'='1`, { terms: ['x', '1'], ids: [] }],
      [`sofa') OR (1=1`, { terms: ['1'], ids: ['sofa-blue', 'sofa-yellow', 'sofa-yellow-2'] }],
      [`\\'; DELETE FROM images_1 WHERE '1'='1`, { terms: ['delete', 'from', 'images', '1', 'where'], ids: [] }],
      [`title:* OR description:*`, { terms: ['title', 'description'], ids: [] }],
    ];
    for (const [text, expected] of hostile) {
      if (expected === 'query_invalid') {
        await assert.rejects(searchText(shop.catalog, text), { code: 'query_invalid' }, text);
      } else {
        const response = await searchText(shop.catalog, text);
        assert.deepEqual(response.query.terms, expected.terms, text);
        // Sorted: the sofas tie on score.
        assert.deepEqual(response.results.map((r) => r.id).sort(), expected.ids, text);
      }
      for (const value of [text, `${text}'`]) {
        const filtered = await searchText(shop.catalog, 'sofa', { filters: { colour: { eq: value }, currency: { in: [value, 'EUR'] } } });
        assert.deepEqual(filtered.results, [], `filter value ${value}`);
      }
    }
    assert.equal(await shop.catalog.countProducts(), before);
    const where = buildWhere(validateFilters({ colour: { eq: `x' OR '1'='1` } }, await shop.catalog.info()), await shop.catalog.info());
    assert.equal(where, `(head_colour = 'x'' OR ''1''=''1')`);
  });

  test('bad queries are refused with query_invalid', async () => {
    await assert.rejects(searchText(shop.catalog, 'a'.repeat(10_000)), { code: 'query_invalid' });
    await assert.rejects(searchText(shop.catalog, 'sofa '.repeat(201)), { code: 'query_invalid' });
    await assert.doesNotReject(searchText(shop.catalog, 'sofa '.repeat(200)));
    await assert.rejects(searchText(shop.catalog, 'the and of'), { code: 'query_invalid' });
    await assert.rejects(searchText(shop.catalog, 'sofa', { filters: { seller: { eq: 'acme' } } }), { code: 'query_invalid' });
    await assert.rejects(searchText(shop.catalog, 'sofa', { filters: { '1=1 OR': { eq: 'x' } } }), { code: 'query_invalid' });
    await assert.rejects(searchText(shop.catalog, 'sofa', { filters: { price: { eq: '1 OR 1=1' } } }), { code: 'query_invalid' });
    await assert.rejects(searchText(shop.catalog, 'sofa', { filters: { colour: { gte: 3 } } }), { code: 'query_invalid' });
    await assert.rejects(searchText(shop.catalog, 'sofa', { filters: { colour: { eq: 'x'.repeat(201) } } }), { code: 'query_invalid' });
    await assert.rejects(searchText(shop.catalog, 'sofa', { filters: { colour: { eq: 'a\u0000b' } } }), { code: 'query_invalid' });
    await assert.rejects(searchText(shop.catalog, 'sofa', { filters: { price: { lte: Infinity } } }), { code: 'query_invalid' });
    await assert.rejects(searchText(shop.catalog, 'sofa', { filters: { price: { lte: 5, drop: 1 } as { lte: number } } }), { code: 'query_invalid' });
  });
});

describe('text search without an index', () => {
  test('before optimize has built the FTS index, words are matched by a scan', async () => {
    const catalog = await openCatalog(join(tmp.path, 'no-index'), { embeddingDim: shop.analyzer.embeddingDim });
    await catalog.insertProducts([
      await productFrom(shop.analyzer, 'a', [{ background: 'red' }], { title: 'Velvet loveseat' }),
      await productFrom(shop.analyzer, 'b', [{ background: 'blue' }], { title: 'Oak table', description: 'solid velvet-free oak' }),
    ]);
    assert.equal(await catalog.hasTextIndex(), false);
    const response = await searchText(catalog, 'oak');
    assert.deepEqual(response.results.map((r) => r.id), ['b']);
    assert.deepEqual(response.results[0]!.why, ['title matches "oak"']);
    await catalog.close();
  });

  test('a word written joined ("Tshirts") matches the same word written apart ("t-shirt"), both ways', async () => {
    assert.ok(['tshirt', 't', 'shirt', 'yellow'].every((w) => listingWords('Yellow Tshirts').has(w)));
    assert.ok(!listingWords('Yellow shirts').has('t'));
    const catalog = await openCatalog(join(tmp.path, 'joined'), { embeddingDim: shop.analyzer.embeddingDim });
    await catalog.insertProducts([
      await productFrom(shop.analyzer, 'joined', [{ background: 'yellow' }], { title: 'Printed Yellow Tshirts' }),
      await productFrom(shop.analyzer, 'apart', [{ background: 'red' }], { title: 'Plain red T-Shirt' }),
      await productFrom(shop.analyzer, 'other', [{ background: 'blue' }], { title: 'Blue shirt' }),
    ]);
    for (const query of ['t-shirt', 'tshirt', 'T shirts']) {
      const response = await searchText(catalog, query);
      assert.deepEqual(response.results.map((r) => r.id).slice(0, 2).sort(), ['apart', 'joined'], query);
      assert.ok(response.results.slice(0, 2).every((r) => r.why.some((w) => w.startsWith('title matches'))), `${query}: ${JSON.stringify(response.results.map((r) => r.why))}`);
      // "T shirts" is two words, and the blue shirt's title holds one of them.
      if (query !== 'T shirts') assert.ok(!response.results.some((r) => r.id === 'other' && r.why.some((w) => w.startsWith('title matches'))), query);
    }
    await catalog.close();
  });
});

describe('text search over the model\'s labels (a catalog of photos without words)', () => {
  /** A listing titled by its id alone, with the model's colour and type labels at these scores. */
  const product = (id: string, colour: string, type: string, scores: [colour: number, type: number] = [0.9, 0.9]): ProductInput => {
    const embedding = Float32Array.from({ length: 8 }, (_, i) => (i === id.length % 8 ? 1 : 0));
    const single = (label: string, score: number) => ({ kind: 'single' as const, top: [{ label, score }] });
    return {
      id,
      title: id,
      images: [{ path: `/photos/${id}.jpg`, contentHash: Buffer.from(id).toString('hex').padStart(64, '0'), analysis: { heads: { colour: single(colour, scores[0]), type: single(type, scores[1]) }, embedding, code: '00', modelVersion: 'test@1' } }],
    };
  };

  test('what kind of product it is weighs more than its colour: "yellow sofa" ranks a grey sofa above a yellow shoe', async () => {
    const catalog = await openCatalog(join(tmp.path, 'kind-over-colour'), { embeddingDim: 8 });
    // Ids that share no word with the query: only the labels can find them.
    await catalog.insertProducts([product('p1', 'yellow', 'shoe', [1, 0.9]), product('p2', 'grey', 'sofa', [0.9, 0.99]), product('p3', 'yellow', 'sofa', [0.7, 0.9])]);
    await catalog.optimize();
    const response = await searchText(catalog, 'yellow sofa');
    // The yellow sofa, then the grey sofa, then the yellow shoe.
    assert.deepEqual(response.results.map((r) => r.id), ['p3', 'p2', 'p1']);
    await catalog.close();
  });

  test('words naming two labels find the products labelled as both, however many are labelled as one', async () => {
    const catalog = await openCatalog(join(tmp.path, 'labels-only'), { embeddingDim: 8 });
    // More products labelled "navy" alone than one read of the labels takes, written first (a read takes rows in table order).
    const products = [
      ...Array.from({ length: 320 }, (_, i) => product(`c${i}`, 'navy', 'chair')),
      ...['s1', 's2', 's3'].map((id) => product(id, 'navy', 'sofa')),
      ...Array.from({ length: 20 }, (_, i) => product(`r${i}`, 'red', 'sofa')),
    ];
    await catalog.insertProducts(products);
    await catalog.optimize();
    const response = await searchText(catalog, 'navy sofa', { limit: 5 });
    assert.deepEqual(response.results.slice(0, 3).map((r) => r.id).sort(), ['s1', 's2', 's3']);
    assert.ok(response.results.slice(0, 3).every((r) => r.why.includes('colour=navy (predicted 0.90)') && r.why.includes('type=sofa (predicted 0.90)')), JSON.stringify(response.results[0]?.why));
    // One label named: the products labelled so, as before.
    const sofas = await searchText(catalog, 'sofa', { limit: 30 });
    assert.equal(sofas.results.length, 23);
    await catalog.close();
  });
});

describe('facets and duplicates', () => {
  test('facets count products once per value', () => {
    const candidate = (id: string, colours: string[], price: number | null, currency: string | null, category: string | null = null) => ({
      id,
      title: id,
      description: '',
      image: '',
      price,
      currency,
      category,
      labels: {},
      allLabels: { colour: new Set(colours) },
      lists: {},
      raw: 0,
      row: {},
    });
    assert.deepEqual(
      computeFacets([candidate('a', ['red', 'blue'], 5, 'EUR'), candidate('b', ['red'], 700, 'EUR'), candidate('c', [], null, null)]),
      { colour: { red: 2, blue: 1 }, currency: { EUR: 2 }, price: { '0-10': 1, '500-1000': 1 } },
    );
    // The seller's category is counted as the listing's; a head named `category` is not counted under it (the filter is the seller's).
    const withHead = { ...candidate('d', [], null, null, 'Sofas'), allLabels: { category: new Set(['sofa']) } };
    assert.deepEqual(computeFacets([candidate('e', [], null, null, 'Sofas'), withHead, candidate('f', [], null, null, 'Chairs')]), { category: { Sofas: 2, Chairs: 1 } });
  });

  test('listings sharing a photo form a duplicate group; a low threshold groups more', async () => {
    const strict = await findDuplicates(shop.catalog, { threshold: 0.99 });
    assert.equal(strict.groups.length, 1);
    assert.deepEqual(strict.groups[0]!.products.map((p) => p.id), ['mug-1', 'mug-1-copy']);
    assert.ok(strict.groups[0]!.maxScore > 0.999);
    const loose = await findDuplicates(shop.catalog, { threshold: 0.8 });
    assert.ok(loose.groups.some((g) => g.products.some((p) => p.id === 'sofa-yellow') && g.products.some((p) => p.id === 'sofa-yellow-2')));
    await assert.rejects(findDuplicates(shop.catalog, { threshold: 0 }), { code: 'query_invalid' });
    await assert.rejects(findDuplicates(shop.catalog, { threshold: 1.5 }), { code: 'query_invalid' });
  });
});
