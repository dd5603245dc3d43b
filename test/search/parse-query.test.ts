import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalisePhrase, parseQuery, singular } from '../../src/search/parse-query.ts';

const vocab = {
  colour: ['yellow', 'blue', 'red', 'grey', 'white'],
  category: ['sofa', 't-shirt', 'pants', 'shoes', 'lamp', 'bedside_table', 'table'],
};

describe('parseQuery', () => {
  test('colour, synonym category, price and a remaining term', () => {
    const q = parseQuery('yellow mid-century loveseat under 200', vocab);
    assert.deepEqual(q.filters, { price: { lte: 200 }, colour: { eq: 'yellow' }, category: { eq: 'sofa' } });
    assert.deepEqual(q.terms, ['mid-century']);
    assert.deepEqual(
      q.recognised.find((r) => r.phrase === 'loveseat'),
      { phrase: 'loveseat', field: 'category', value: 'sofa', via: 'sofa' },
    );
  });

  test('price phrases', () => {
    assert.deepEqual(parseQuery('tee below $50', vocab).filters, { price: { lte: 50 }, category: { eq: 't-shirt' } });
    assert.deepEqual(parseQuery('trousers over 100', vocab).filters, { price: { gte: 100 }, category: { eq: 'pants' } });
    assert.deepEqual(parseQuery('sneakers between 10 and 20 euros', vocab).filters, {
      price: { gte: 10, lte: 20 },
      category: { eq: 'shoes' },
    });
    assert.deepEqual(parseQuery('lamp $10-$20', vocab).filters, { price: { gte: 10, lte: 20 }, category: { eq: 'lamp' } });
    assert.deepEqual(parseQuery('lamp at least 5 and less than 9.5', vocab).filters, {
      price: { gte: 5, lte: 9.5 },
      category: { eq: 'lamp' },
    });
    // "under" without a number is just a word.
    assert.deepEqual(parseQuery('under armour', vocab).terms, ['under', 'armour']);
  });

  test('plurals, multi-word labels, spelling variants and several values of one head', () => {
    assert.deepEqual(parseQuery('sofas', vocab).filters, { category: { eq: 'sofa' } });
    assert.deepEqual(parseQuery('bedside tables', vocab).filters, { category: { eq: 'bedside_table' } });
    assert.deepEqual(parseQuery('t-shirts', vocab).filters, { category: { eq: 't-shirt' } });
    assert.deepEqual(parseQuery('gray lamp', vocab).filters, { colour: { eq: 'grey' }, category: { eq: 'lamp' } });
    assert.deepEqual(parseQuery('red or blue shoes', vocab).filters, { colour: { in: ['red', 'blue'] }, category: { eq: 'shoes' } });
  });

  test('labels the catalog does not have stay text terms; stop words go', () => {
    const q = parseQuery('the green velvet chair for my office', vocab);
    assert.deepEqual(q.filters, {});
    assert.deepEqual(q.terms, ['green', 'velvet', 'chair', 'office']);
  });

  test('hostile text is just words', () => {
    const q = parseQuery(`'; DROP TABLE images_1; -- 1=1 OR "x"="x"`, { colour: ['red'] });
    assert.deepEqual(q.filters, {});
    assert.deepEqual(q.terms, ['drop', 'table', 'images', '1', 'x']);
    // A word that happens to be a label is still only ever a quoted value.
    assert.deepEqual(parseQuery('DROP TABLE', vocab).filters, { category: { eq: 'table' } });
  });

  test('over-long queries are refused', () => {
    assert.throws(() => parseQuery('a'.repeat(10_000), vocab), { code: 'query_invalid' });
    assert.doesNotThrow(() => parseQuery('a '.repeat(500), vocab));
  });

  test('helpers', () => {
    assert.equal(singular('dresses'), 'dress');
    assert.equal(singular('ponies'), 'pony');
    assert.equal(singular('glass'), 'glass');
    assert.equal(normalisePhrase('Bedside_Table'), 'bedside table');
  });
});
