// When a photo match may be called exact: src/search/exact-match.ts, shared by search by photo and seen-together links.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exactVerdict, SAME_PHOTO_SIMILARITY, sureLabels } from '../../src/search/exact-match.ts';

const rule = { threshold: 0.65, heads: ['grocery_fine'] };

test('without calibration heads the threshold alone decides', () => {
  assert.equal(exactVerdict(0.7, {}, { threshold: 0.65 }), 'exact');
  assert.equal(exactVerdict(0.6, {}, { threshold: 0.65 }), 'below');
});

test('with them: exact only where the product, and the photo when known, are sure of the same label', () => {
  assert.equal(exactVerdict(0.7, { grocery_fine: 'Banana' }, rule), 'exact');
  assert.equal(exactVerdict(0.7, { grocery_fine: 'Banana' }, { ...rule, queryLabels: { grocery_fine: 'Banana' } }), 'exact');
  assert.equal(exactVerdict(0.7, { grocery_fine: 'Banana' }, { ...rule, queryLabels: { grocery_fine: 'Lemon' } }), 'uncalibrated');
  assert.equal(exactVerdict(0.7, { grocery_fine: 'Banana' }, { ...rule, queryLabels: {} }), 'uncalibrated', 'the photo abstained');
  assert.equal(exactVerdict(0.7, { clothing: 'Dress' }, rule), 'uncalibrated', 'the product abstained');
  assert.equal(exactVerdict(0.6, { grocery_fine: 'Banana' }, rule), 'below');
});

test('outside them, only the same photo is exact', () => {
  assert.equal(exactVerdict(SAME_PHOTO_SIMILARITY, { clothing: 'Dress' }, rule), 'same-photo');
  assert.equal(exactVerdict(SAME_PHOTO_SIMILARITY - 0.01, { clothing: 'Dress' }, rule), 'uncalibrated');
  assert.equal(exactVerdict(0.2, { clothing: 'Dress' }, rule), 'below');
});

test('sure labels leave out abstained and multi-label heads', () => {
  const heads = {
    colour: { kind: 'single' as const, top: [{ label: 'red', score: 0.9 }] },
    type: { kind: 'single' as const, top: [{ label: 'sofa', score: 0.2 }], abstain: true },
    tags: { kind: 'multi' as const, labels: [{ label: 'wool', score: 0.8 }] },
  };
  assert.deepEqual(sureLabels({ heads }), { colour: 'red' });
});
