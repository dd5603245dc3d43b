// Cropped training views: the photo and its mask must be cut at the same pixels, mirrored
// first when the view is mirrored, and the random regions must stay inside the photo.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crop, cropRect, mirror, randomCrops } from '../../../src/train/segmentation/dataset.ts';
import { rng } from '../../../src/train/fit-heads.ts';

/** A width x height x channels image whose value at (x, y, c) is 10 * y + x + c (unique per pixel and channel within 10 columns). */
function ramp(width: number, height: number, channels: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = 10 * y + x + c * 100;
  return out;
}

test('crop cuts the covered pixels of an RGB photo and of a one-channel mask alike', () => {
  const box = { left: 0.25, top: 1 / 3, width: 0.5, height: 2 / 3 };
  assert.deepEqual(cropRect(box, 8, 6), { left: 2, top: 2, width: 4, height: 4 });
  const photo = crop(ramp(8, 6, 3), 8, 6, 3, box);
  const mask = crop(ramp(8, 6, 1), 8, 6, 1, box);
  assert.deepEqual([photo.width, photo.height, mask.width, mask.height], [4, 4, 4, 4]);
  // Top-left of the crop is the source's (2, 2); bottom-right its (5, 5).
  assert.deepEqual(Array.from(photo.data.subarray(0, 3)), [22, 122, 222]);
  assert.deepEqual(Array.from(mask.data.subarray(0, 4)), [22, 23, 24, 25]);
  assert.equal(mask.data.at(-1), 55);
  // Each photo pixel's first channel equals the mask value at the same place.
  for (let i = 0; i < 16; i++) assert.equal(photo.data[i * 3], mask.data[i]);
});

test('a mirrored crop: mirroring then cropping the mask matches the mirrored photo cropped', () => {
  const box = { left: 0, top: 0, width: 0.5, height: 1 };
  const photo = crop(mirror(ramp(6, 2, 3), 6, 2, 3), 6, 2, 3, box);
  const mask = crop(mirror(ramp(6, 2, 1), 6, 2, 1), 6, 2, 1, box);
  // The left half of the mirrored image is the right half of the source, reversed.
  assert.deepEqual(Array.from(mask.data), [5, 4, 3, 15, 14, 13]);
  for (let i = 0; i < mask.data.length; i++) assert.equal(photo.data[i * 3], mask.data[i]);
});

test('crop refuses data of the wrong size, and never goes outside the image', () => {
  assert.throws(() => crop(new Uint8Array(10), 4, 4, 1, { left: 0, top: 0, width: 1, height: 1 }), /10 values for 4x4x1/);
  assert.deepEqual(cropRect({ left: 0.99, top: 0.99, width: 0.5, height: 0.5 }, 10, 10), { left: 10 - 1, top: 9, width: 1, height: 1 });
});

test('randomCrops: the asked share of each side, inside the photo, the same for the same seed', () => {
  const boxes = randomCrops(50, [0.55, 0.85], rng(3));
  assert.equal(boxes.length, 50);
  for (const b of boxes) {
    assert.ok(b.width >= 0.55 && b.width <= 0.85 && b.height === b.width, JSON.stringify(b));
    assert.ok(b.left >= 0 && b.top >= 0 && b.left + b.width <= 1.0005 && b.top + b.height <= 1.0005, JSON.stringify(b));
  }
  assert.deepEqual(randomCrops(5, [0.55, 0.85], rng(3)), boxes.slice(0, 5));
  assert.notDeepEqual(randomCrops(5, [0.55, 0.85], rng(4)), boxes.slice(0, 5));
  assert.deepEqual(randomCrops(0, [0.55, 0.85], rng(3)), []);
});
