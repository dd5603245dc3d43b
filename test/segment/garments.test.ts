// Garments as products from a synthetic segmentation: one candidate per garment label,
// its box, its share of the photo and its own colour; skin, hair and background left out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { garmentsFromSegmentation } from '../../src/pipelines/garments.ts';
import type { Segmentation } from '../../src/pipelines/segment.ts';

const LABELS = ['null', 'dress', 'jeans', 'skin', 'hair', 'belt', 'bag'];

function paint(width: number, height: number): { segmentation: Segmentation; rgb: Uint8Array } {
  const mask = new Uint8Array(width * height);
  const rgb = new Uint8Array(width * height * 3).fill(250); // white backdrop
  const fill = (label: number, colour: [number, number, number], x0: number, y0: number, x1: number, y1: number): void => {
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        mask[y * width + x] = label;
        rgb.set(colour, (y * width + x) * 3);
      }
    }
  };
  fill(4, [60, 40, 20], 25, 0, 35, 6); // hair
  fill(3, [230, 180, 150], 25, 6, 35, 14); // face (skin)
  fill(1, [200, 30, 35], 15, 14, 45, 50); // red dress
  fill(2, [25, 35, 90], 20, 50, 40, 78); // navy jeans
  fill(5, [20, 20, 20], 15, 48, 45, 49); // a thin black belt: 30 px of 4,800, under 1%
  // A green bag in two pieces (strap and body): one candidate whose box covers both.
  fill(6, [40, 150, 60], 2, 20, 4, 30);
  fill(6, [40, 150, 60], 0, 30, 10, 40);
  // Noise inside the dress: a few pixels of another colour do not change its colour.
  for (let i = 0; i < 30; i++) rgb.set([250, 250, 250], ((20 + (i % 10)) * width + 20 + Math.floor(i / 10)) * 3);
  return { segmentation: { width, height, mask, labels: LABELS }, rgb };
}

test('each garment is a product candidate with its box, area share and colour', () => {
  const { segmentation, rgb } = paint(60, 80);
  const garments = garmentsFromSegmentation(segmentation, rgb, { minShare: 0.01 });
  assert.deepEqual(garments.map((g) => g.label), ['dress', 'jeans', 'bag']);
  const [dress, jeans, bag] = garments as [(typeof garments)[0], (typeof garments)[0], (typeof garments)[0]];
  assert.deepEqual(dress.box, [15, 14, 30, 36]);
  assert.equal(dress.areaShare, (30 * 36 - 30) / 4800); // the belt's row is painted over it
  assert.equal(dress.colour, 'red');
  assert.ok(dress.colourShare > 0.9);
  assert.equal(dress.labelIndex, 1);
  assert.deepEqual(jeans.box, [20, 50, 20, 28]);
  assert.equal(jeans.colour, 'navy');
  assert.deepEqual(bag.box, [0, 20, 10, 20]);
  assert.equal(bag.colour, 'green');
  assert.equal(bag.areaShare, (2 * 10 + 10 * 10) / 4800);
});

test('small garments appear when the threshold allows; non-garments never do', () => {
  const { segmentation, rgb } = paint(60, 80);
  const all = garmentsFromSegmentation(segmentation, rgb, { minShare: 0 });
  assert.deepEqual(all.map((g) => g.label).sort(), ['bag', 'belt', 'dress', 'jeans']);
  assert.equal(all.find((g) => g.label === 'belt')!.colour, 'black');
  const custom = garmentsFromSegmentation(segmentation, rgb, { minShare: 0, notGarments: new Set(['null']) });
  assert.ok(custom.some((g) => g.label === 'skin') && custom.some((g) => g.label === 'hair'));
  assert.throws(() => garmentsFromSegmentation(segmentation, rgb.subarray(3)), /needs/);
});
