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

  test('a colour next to a garment is that garment in that colour, when the catalog has that pair', () => {
    const pairs = ['dress:red', 't-shirt:grey', 'dress:light green', 'jeans:blue'];
    const q = parseQuery('red dress under 50', vocab, pairs);
    assert.deepEqual(q.filters, { price: { lte: 50 }, garment_colour: { eq: 'dress:red' } });
    assert.deepEqual(q.terms, ['dress']);
    assert.deepEqual(q.recognised.at(-1), { phrase: 'red dress', field: 'garment_colour', value: 'dress:red' });
    // Plurals, synonyms and spelling variants on either side; two-word colours.
    assert.deepEqual(parseQuery('gray tees', vocab, pairs).filters, { garment_colour: { eq: 't-shirt:grey' }, category: { eq: 't-shirt' } });
    assert.deepEqual(parseQuery('gray tees', vocab, pairs).recognised[0], { phrase: 'gray tees', field: 'garment_colour', value: 't-shirt:grey', via: 'grey t shirt' });
    assert.deepEqual(parseQuery('light green dresses', vocab, pairs).filters, { garment_colour: { eq: 'dress:light green' } });
    assert.deepEqual(parseQuery('red dress or blue jeans', vocab, pairs).filters, { garment_colour: { in: ['dress:red', 'jeans:blue'] }, category: { eq: 'pants' } });
    // No such pair, a colour alone, or no pairs at all: the colour is matched as before.
    assert.deepEqual(parseQuery('blue dress', vocab, pairs).filters, { colour: { eq: 'blue' } });
    assert.deepEqual(parseQuery('dress red', vocab, pairs).filters, { colour: { eq: 'red' } });
    assert.deepEqual(parseQuery('red dress', vocab).filters, { colour: { eq: 'red' } });
    assert.deepEqual(parseQuery('red', vocab, pairs).filters, { colour: { eq: 'red' } });
  });

  test('helpers', () => {
    assert.equal(singular('dresses'), 'dress');
    assert.equal(singular('ponies'), 'pony');
    assert.equal(singular('glass'), 'glass');
    assert.equal(normalisePhrase('Bedside_Table'), 'bedside table');
  });
});
