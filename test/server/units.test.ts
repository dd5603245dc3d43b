// Small pure pieces of the service: the suggested listing, the metrics text format, key checks.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { describe, mock, test } from 'node:test';
import type { HeadResult } from '../../src/model/types.ts';
import { suggestListing } from '../../src/pipelines/suggest-listing.ts';
import { keyMatches } from '../../src/server/auth.ts';
import { ImageStore } from '../../src/server/image-store.ts';
import { Registry } from '../../src/server/metrics.ts';

const single = (label: string, score: number, abstain = false, runnerUp = 'other'): HeadResult => ({
  kind: 'single',
  top: [{ label, score }, { label: runnerUp, score: 1 - score }],
  abstain,
});

describe('suggestListing', () => {
  test('the most confident category head that does not abstain wins, with its path', () => {
    const listing = suggestListing({
      clothing: single('Dress', 0.95),
      grocery_coarse: single('Apple', 0.99, true),
      colour: single('blue', 0.8),
    });
    assert.deepEqual(listing.category, { value: 'Dress', score: 0.95, abstain: false, head: 'clothing', path: ['fashion', 'clothing', 'Dress'] });
    assert.equal(listing.colour?.value, 'blue');
    assert.deepEqual(listing.title, { value: 'Blue Dress', score: 0.8, abstain: false });
  });

  test('a sure fine grocery head refines its coarse parent', () => {
    const listing = suggestListing({ grocery_coarse: single('Apple', 0.97), grocery_fine: single('Granny-Smith', 0.7), clothing: single('Hat', 0.6) });
    assert.deepEqual(listing.category?.path, ['grocery', 'Fruit', 'Apple', 'Granny-Smith']);
    assert.equal(listing.title.value, 'Granny Smith Apple');
    // ... but not when the fine head abstains or disagrees on the parent.
    assert.equal(suggestListing({ grocery_coarse: single('Apple', 0.97), grocery_fine: single('Granny-Smith', 0.2, true) }).category?.value, 'Apple');
    assert.equal(suggestListing({ grocery_coarse: single('Apple', 0.97), grocery_fine: single('Anjou', 0.9) }).category?.value, 'Apple');
    assert.deepEqual(suggestListing({ grocery_coarse: single('Milk', 0.9) }).category?.path, ['grocery', 'Packages', 'Milk']);
  });

  test('when every head abstains the best guess is offered, marked unsure', () => {
    const listing = suggestListing({ clothing: single('Shirt', 0.25, true), colour: single('white', 0.2, true) });
    assert.equal(listing.category?.value, 'Shirt');
    assert.equal(listing.category?.abstain, true);
    assert.equal(listing.colour?.abstain, true);
    assert.deepEqual(listing.title, { value: 'Shirt', score: 0.25, abstain: true });
  });

  test('other heads become attributes and multi-label heads tags; no heads, empty listing', () => {
    const listing = suggestListing({ material: single('wool', 0.9), parts: { kind: 'multi', labels: [{ label: 'sleeve', score: 0.8 }] } });
    assert.equal(listing.category, null);
    assert.equal(listing.attributes.material?.value, 'wool');
    assert.deepEqual(listing.tags.map((t) => t.value), ['sleeve']);
    assert.deepEqual(suggestListing({}).title, { value: '', score: 0, abstain: true });
  });

  test('garment tags only join a fashion listing; fashion_mnist never joins', () => {
    const tags = { kind: 'multi' as const, labels: [{ label: 'jeans', score: 0.9 }] };
    const shirt = suggestListing({ clothing: single('Shirt', 0.9), garment_tags: tags, fashion_mnist: single('Bag', 0.99) });
    assert.deepEqual(shirt.tags.map((t) => t.value), ['jeans']);
    assert.equal(shirt.attributes.fashion_mnist, undefined);
    const apple = suggestListing({ grocery_coarse: single('Apple', 0.9), garment_tags: tags });
    assert.deepEqual(apple.tags, []);
  });

  test('fashion_article and furniture are category heads with paths and title words; vertical is no field', () => {
    const tshirt = suggestListing({ vertical: single('fashion', 0.99), fashion_article: single('Tshirts', 0.9), colour: single('navy', 0.8), gender: single('Men', 0.7) });
    // The path says it as people type it (a seller's category is searched as text); the value stays the head's label.
    assert.deepEqual(tshirt.category?.path, ['fashion', 'clothing', 'T-Shirts']);
    assert.equal(tshirt.category?.value, 'Tshirts');
    assert.equal(tshirt.title.value, 'Navy T-Shirt');
    assert.equal(tshirt.attributes.gender?.value, 'Men');
    assert.equal(tshirt.attributes.vertical, undefined);
    assert.deepEqual(suggestListing({ fashion_article: single('Casual Shoes', 0.8) }).category?.path, ['fashion', 'footwear', 'Casual Shoes']);
    const sofa = suggestListing({ vertical: single('home', 0.95), furniture: single('sofa', 0.9), colour: single('yellow', 0.6), grocery_fine: single('Banana', 0.9, true) });
    assert.deepEqual(sofa.category, { value: 'sofa', score: 0.9, abstain: false, head: 'furniture', path: ['home', 'furniture', 'sofa'] });
    assert.equal(sofa.title.value, 'Yellow Sofa');
    assert.equal(suggestListing({ furniture: single('swivelchair', 0.9) }).title.value, 'Swivel chair');
    assert.deepEqual(suggestListing({ furniture: single('swivelchair', 0.9) }).category?.path, ['home', 'furniture', 'swivel chair']);
    // The colour says how it was reached: measured from the pixels where the learned head did not answer.
    const measured = suggestListing({ furniture: single('sofa', 0.9), colour: { kind: 'single', top: [{ label: 'yellow', score: 0.6 }], abstain: false, source: 'pixels' } });
    assert.equal(measured.colour?.source, 'pixels');
    assert.equal(tshirt.colour?.source, undefined);
    // A head the vertical gate closed suggests nothing: no gender on a banana, not even as "check".
    const banana = suggestListing({ grocery_fine: single('Banana', 0.99), gender: { kind: 'single', top: [{ label: 'Women', score: 0.86 }], abstain: true, outOfVertical: true }, garment_tags: { kind: 'multi', labels: [], outOfVertical: true } });
    assert.equal(banana.attributes.gender, undefined);
    assert.deepEqual(banana.tags, []);
    assert.equal(banana.category?.value, 'Banana');
    // With the vertical unsure, a sure furniture category still keeps fashion's attributes off a bed.
    const bed = suggestListing({ vertical: single('home', 0.42, true), furniture: single('bed', 0.85), gender: single('Men', 0.79), usage: single('Casual', 0.83) });
    assert.equal(bed.category?.value, 'bed');
    assert.deepEqual(bed.attributes, {});
  });
});

test('metrics render in the Prometheus text format', () => {
  const registry = new Registry();
  const hits = registry.counter('hits_total', 'Hits');
  hits.inc({ code: 'a"b' });
  hits.inc({ code: 'a"b' }, 2);
  const latency = registry.histogram('latency_seconds', 'Latency', [0.1, 1]);
  latency.observe(0.05, { route: '/x' });
  latency.observe(0.5, { route: '/x' });
  latency.observe(5, { route: '/x' });
  registry.gauge('depth', 'Depth', () => 7);
  assert.equal(
    registry.render(),
    [
      '# HELP hits_total Hits',
      '# TYPE hits_total counter',
      'hits_total{code="a\\"b"} 3',
      '# HELP latency_seconds Latency',
      '# TYPE latency_seconds histogram',
      'latency_seconds_bucket{route="/x",le="0.1"} 1',
      'latency_seconds_bucket{route="/x",le="1"} 2',
      'latency_seconds_bucket{route="/x",le="+Inf"} 3',
      'latency_seconds_sum{route="/x"} 5.55',
      'latency_seconds_count{route="/x"} 3',
      '# HELP depth Depth',
      '# TYPE depth gauge',
      'depth 7',
      '',
    ].join('\n'),
  );
});

test('API keys compare by digest, whatever their lengths', () => {
  // auth.ts calls node:crypto's timingSafeEqual through an ESM import: spy on the builtin and
  // re-sync its ESM bindings, so each comparison and what it compared are seen.
  const compare = mock.method(crypto, 'timingSafeEqual');
  syncBuiltinESMExports();
  const sha256 = (key: string): Buffer => crypto.createHash('sha256').update(key, 'utf8').digest();
  try {
    const cases: Array<[given: string, expected: string, matches: boolean]> = [
      ['secret', 'secret', true],
      ['secret!', 'secret', false],
      ['', 'secret', false],
      // Same length, one character differs.
      ['secreT', 'secret', false],
    ];
    for (const [given, expected, matches] of cases) {
      const before = compare.mock.callCount();
      assert.equal(keyMatches(given, expected), matches, `${given} vs ${expected}`);
      assert.equal(compare.mock.callCount(), before + 1, `${given} vs ${expected}: compared once, in constant time`);
      const { arguments: args, result } = compare.mock.calls.at(-1)!;
      // The two SHA-256 digests (32 bytes whatever the keys' lengths), never the keys themselves.
      const digests = args.map((a) => Buffer.from(a as Uint8Array).toString('hex')).sort();
      assert.deepEqual(digests, [sha256(given), sha256(expected)].map((d) => d.toString('hex')).sort(), `${given} vs ${expected}`);
      assert.equal(result, matches, 'the answer is the comparison\'s');
    }
  } finally {
    compare.mock.restore();
    syncBuiltinESMExports();
  }
});

test('stored image names are generated hashes only', () => {
  assert.equal(ImageStore.isValidName(`${'0'.repeat(64)}.jpg`), true);
  for (const name of ['../x.jpg', `${'0'.repeat(64)}.svg`, `${'0'.repeat(63)}.png`, `/${'0'.repeat(64)}.png`, `${'A'.repeat(64)}.png`]) {
    assert.equal(ImageStore.isValidName(name), false, name);
  }
  const store = new ImageStore('/srv/data');
  assert.equal(store.nameOf(`/srv/data/images/${'a'.repeat(64)}.png`), `${'a'.repeat(64)}.png`);
  assert.equal(store.nameOf(`/elsewhere/${'a'.repeat(64)}.png`), undefined);
});
