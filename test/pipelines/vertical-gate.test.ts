// The vertical gate and the one colour answer (issue #25): a head of another vertical than the
// photo's sure one abstains (garment tags stop firing on fruit); an unsure vertical gates nothing;
// the learned colour answers where it is sure, the palette everywhere else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HeadSpec } from '../../src/model/manifest.ts';
import type { HeadResult } from '../../src/model/types.ts';
import { chooseColour } from '../../src/pipelines/measure-colour.ts';
import { gateByVertical, sureVertical } from '../../src/pipelines/vertical-gate.ts';

const specs: HeadSpec[] = [
  { name: 'vertical', kind: 'single', output: 'v', labels: ['fashion', 'grocery', 'home'], abstainBelow: 0.6 },
  { name: 'grocery_fine', kind: 'single', output: 'g', labels: ['Banana', 'Lemon'], abstainBelow: 0.3, vertical: 'grocery' },
  { name: 'garment_tags', kind: 'multi', output: 't', labels: ['dress', 'skirt'], thresholds: 0.5, vertical: 'fashion' },
  { name: 'clothing', kind: 'single', output: 'c', labels: ['Dress', 'Shirt'], abstainBelow: 0.3, vertical: 'fashion' },
  { name: 'colour', kind: 'single', output: 'col', labels: ['red', 'yellow'], abstainBelow: 0.4 },
];

function analysis(vertical: string, sure: boolean): Record<string, HeadResult> {
  return {
    vertical: { kind: 'single', top: [{ label: vertical, score: sure ? 0.9 : 0.45 }], abstain: !sure },
    grocery_fine: { kind: 'single', top: [{ label: 'Banana', score: 0.8 }], abstain: false },
    garment_tags: { kind: 'multi', labels: [{ label: 'skirt', score: 0.7 }] },
    clothing: { kind: 'single', top: [{ label: 'Dress', score: 0.6 }], abstain: false },
    colour: { kind: 'single', top: [{ label: 'yellow', score: 0.7 }], abstain: false },
  };
}

test('a sure grocery photo: garment tags and the clothing head abstain, the grocery head answers', () => {
  const gated = gateByVertical(specs, analysis('grocery', true));
  assert.equal(sureVertical(gated), 'grocery');
  assert.deepEqual(gated.garment_tags, { kind: 'multi', labels: [], outOfVertical: true });
  assert.deepEqual(gated.clothing, { kind: 'single', top: [{ label: 'Dress', score: 0.6 }], abstain: true, outOfVertical: true });
  assert.deepEqual(gated.grocery_fine, { kind: 'single', top: [{ label: 'Banana', score: 0.8 }], abstain: false });
  // Heads without a vertical (colour, the vertical head itself) are never gated.
  assert.equal((gated.colour as { abstain?: boolean }).abstain, false);
});

test('a sure home photo gates both fashion and grocery heads', () => {
  const gated = gateByVertical(specs, analysis('home', true));
  assert.equal((gated.grocery_fine as { outOfVertical?: boolean }).outOfVertical, true);
  assert.equal((gated.clothing as { outOfVertical?: boolean }).outOfVertical, true);
});

test('a vertical the head abstains on (0.6 < 0.7) still gates from 0.5: "not sure" is the cheaper mistake', () => {
  const leaning = analysis('home', false);
  leaning.vertical = { kind: 'single', top: [{ label: 'home', score: 0.6 }, { label: 'fashion', score: 0.3 }], abstain: true };
  const gated = gateByVertical(specs, leaning);
  assert.equal(sureVertical(gated), 'home');
  assert.equal((gated.clothing as { outOfVertical?: boolean }).outOfVertical, true);
  assert.equal(sureVertical({ vertical: { kind: 'single', top: [{ label: 'home', score: 0.49 }], abstain: true } }), undefined);
});

test('an unsure vertical (below 0.5), or a model without a vertical head, gates nothing', () => {
  const unsure = analysis('grocery', false);
  assert.deepEqual(gateByVertical(specs, unsure), unsure);
  const { vertical: _, ...noVertical } = analysis('grocery', true);
  assert.deepEqual(gateByVertical(specs, noVertical), noVertical);
});

test('colour: the learned head on its own vertical (unsure where it abstains), otherwise the palette, each saying its source', () => {
  const palette: HeadResult = { kind: 'single', top: [{ label: 'olive', score: 0.5 }], abstain: false, source: 'pixels' };
  let measured = 0;
  const measure = () => (measured++, palette);
  assert.deepEqual(chooseColour({ kind: 'single', top: [{ label: 'yellow', score: 0.7 }], abstain: false }, measure), { kind: 'single', top: [{ label: 'yellow', score: 0.7 }], abstain: false, source: 'model' });
  assert.deepEqual(chooseColour({ kind: 'single', top: [{ label: 'yellow', score: 0.3 }], abstain: true }, measure), { kind: 'single', top: [{ label: 'yellow', score: 0.3 }], abstain: true, source: 'model' });
  assert.equal(measured, 0, 'the palette is not measured when the head answers for the photo');
  assert.equal(chooseColour({ kind: 'single', top: [{ label: 'yellow', score: 0.9 }], abstain: true, outOfVertical: true }, measure), palette);
  assert.equal(chooseColour(undefined, measure), palette);
  assert.equal(measured, 2);
});
