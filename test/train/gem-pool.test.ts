// GeM pooling of cached maps: the fast paths for p = 1 and p = 3 and the generic one agree
// with the formula, clamp negatives to the epsilon, and read the map at its offset.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gemPoolNHWC } from '../../src/train/gem-pool.ts';

function reference(map: Float32Array, offset: number, positions: number, channels: number, p: number): number[] {
  return Array.from({ length: channels }, (_, c) => {
    let sum = 0;
    for (let s = 0; s < positions; s++) sum += Math.pow(Math.max(map[offset + s * channels + c]!, 1e-6), p);
    return Math.pow(sum / positions, 1 / p);
  });
}

test('gemPoolNHWC equals (mean of max(x, eps)^p)^(1/p) for p = 1, 2, 3 at an offset', () => {
  const positions = 12;
  const channels = 5;
  const offset = 7;
  let seed = 3;
  const map = Float32Array.from({ length: offset + positions * channels }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed / 2147483648) * 8 - 2; // includes negatives, which are clamped
  });
  for (const p of [1, 2, 3]) {
    const out = new Float32Array(channels + 2);
    gemPoolNHWC(map, offset, positions, channels, p, out, 2);
    const expected = reference(map, offset, positions, channels, p);
    expected.forEach((v, c) => assert.ok(Math.abs(out[2 + c]! - v) <= 1e-6 * Math.max(1, v), `p=${p} channel ${c}: ${out[2 + c]} vs ${v}`));
    assert.equal(out[0], 0, 'values before outOffset untouched');
  }
});

test('gemPoolNHWC: an all-negative channel pools to the epsilon, and p = 3 is above p = 1 on spread values', () => {
  const map = Float32Array.from([-1, 1, -2, 5, -3, 0]); // 3 positions x 2 channels
  const mean = new Float32Array(2);
  const cubic = new Float32Array(2);
  gemPoolNHWC(map, 0, 3, 2, 1, mean, 0);
  gemPoolNHWC(map, 0, 3, 2, 3, cubic, 0);
  assert.ok(Math.abs(mean[0]! - 1e-6) < 1e-9);
  assert.ok(Math.abs(mean[1]! - 2) < 1e-6);
  assert.ok(Math.abs(cubic[1]! - Math.cbrt(126 / 3)) < 1e-5);
  assert.ok(cubic[1]! > mean[1]!);
});
