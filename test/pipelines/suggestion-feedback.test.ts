// The head -> field mapping and the outcome of one suggestion (src/pipelines/suggestion-feedback.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HeadResult } from '../../src/model/types.ts';
import { suggestListing } from '../../src/pipelines/suggest-listing.ts';
import { fieldPath, judgeSuggestion, judgeSuggestions, suggestionField } from '../../src/pipelines/suggestion-feedback.ts';

const single = (label: string, score = 0.9): HeadResult => ({ kind: 'single', top: [{ label, score }] });

test('each head maps to the field suggestListing fills with it', () => {
  const heads: Record<string, HeadResult> = {
    clothing: single('T-Shirt'),
    colour: single('red'),
    material: single('cotton'),
    fashion_mnist: single('Shirt'),
    garment_tags: { kind: 'multi', labels: [{ label: 'v-neck', score: 0.7 }] },
  };
  const listing = suggestListing(heads);
  assert.equal(fieldPath(suggestionField(listing.category!.head, 'single')!), 'category');
  assert.equal(fieldPath(suggestionField(listing.colour!.head, 'single')!), 'attributes.colour');
  for (const [name, field] of Object.entries(listing.attributes)) assert.equal(fieldPath(suggestionField(field.head, 'single')!), `attributes.${name}`);
  for (const tag of listing.tags) assert.equal(fieldPath(suggestionField(tag.head, 'multi')!), 'attributes.tags');
  // A head suggested listings leave out is not a suggestion.
  assert.equal(listing.attributes.fashion_mnist, undefined);
  assert.equal(suggestionField('fashion_mnist', 'single'), undefined);
});

test('outcomes: kept in other spelling is accepted, changed is corrected, empty is dropped', () => {
  const category = { kind: 'category', head: 'clothing' } as const;
  const colour = { kind: 'attribute', name: 'colour', list: false } as const;
  const tags = { kind: 'attribute', name: 'tags', list: true } as const;
  assert.deepEqual(judgeSuggestion(category, 'Golden-Delicious', { category: 'grocery > Fruit > Apple > Golden Delicious', attributes: {} }), { outcome: 'accepted', final: 'grocery > Fruit > Apple > Golden Delicious' });
  assert.deepEqual(judgeSuggestion(category, 'T-Shirt', { category: 'Tops', attributes: {} }), { outcome: 'corrected', final: 'Tops' });
  assert.deepEqual(judgeSuggestion(category, 'T-Shirt', { category: null, attributes: {} }), { outcome: 'dropped', final: null });
  // The path the seller was shown names the label as people write it: keeping it is accepting it.
  const article = { kind: 'category', head: 'fashion_article' } as const;
  assert.deepEqual(judgeSuggestion(article, 'Tshirts', { category: 'fashion > clothing > T-Shirts', attributes: {} }).outcome, 'accepted');
  assert.deepEqual(judgeSuggestion(article, 'Tshirts', { category: 'fashion > clothing > Shirts', attributes: {} }).outcome, 'corrected');
  assert.deepEqual(judgeSuggestion({ kind: 'category', head: 'furniture' }, 'swivelchair', { category: 'home > furniture > swivel chair', attributes: {} }).outcome, 'accepted');
  assert.deepEqual(judgeSuggestion(colour, 'red', { category: null, attributes: { colour: ' Red ' } }), { outcome: 'accepted', final: 'Red' });
  assert.deepEqual(judgeSuggestion(colour, 'red', { category: null, attributes: { colour: '' } }), { outcome: 'dropped', final: null });
  assert.deepEqual(judgeSuggestion(tags, 'v-neck', { category: null, attributes: { tags: 'crew, V neck' } }), { outcome: 'accepted', final: 'v-neck' });
  assert.deepEqual(judgeSuggestion(tags, 'v-neck', { category: null, attributes: { tags: ['crew'] } }), { outcome: 'dropped', final: null });
});

test('a head the photo has not, or a label it did not offer, is a problem with its path', () => {
  const analysis = { modelVersion: 'm@1', heads: { colour: single('red') }, embedding: new Float32Array(4), code: '00' };
  const { feedback, problems } = judgeSuggestions(
    [{ modelVersion: 'm@1', heads: [{ head: 'colour', label: 'blue', score: 0.9 }, { head: '__proto__', label: 'x', score: 0.1 }] }],
    [analysis],
    { category: null, attributes: {} },
  );
  assert.deepEqual(feedback, []);
  assert.deepEqual(problems.map((p) => p.path), [[0, 'heads', 0, 'label'], [0, 'heads', 1, 'head']]);
});
