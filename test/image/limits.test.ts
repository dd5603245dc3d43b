import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_IMAGE_LIMITS, resolveImageLimits, type ImageLimits } from '../../src/image/limits.ts';
import { throwsWith } from './fixtures.ts';

describe('image limits', () => {
  it('has the documented defaults', () => {
    assert.deepEqual({ ...DEFAULT_IMAGE_LIMITS }, { maxInputBytes: 20 * 1024 * 1024, maxPixels: 40_000_000, maxDimension: 20_000 });
    assert.ok(Object.isFrozen(DEFAULT_IMAGE_LIMITS));
  });

  it('fills unset fields from the defaults', () => {
    assert.equal(resolveImageLimits(), DEFAULT_IMAGE_LIMITS);
    assert.deepEqual(resolveImageLimits({ maxPixels: 1000 }), { ...DEFAULT_IMAGE_LIMITS, maxPixels: 1000 });
    assert.deepEqual(resolveImageLimits({ maxPixels: undefined }), { ...DEFAULT_IMAGE_LIMITS });
  });

  for (const [name, value] of [['zero', 0], ['negative', -5], ['fraction', 1.5], ['NaN', Number.NaN], ['Infinity', Infinity], ['string', '100'], ['null', null]] as const) {
    it(`refuses a ${name} value`, () => {
      throwsWith(() => resolveImageLimits({ maxInputBytes: value as unknown as number }), 'invalid_argument');
      throwsWith(() => resolveImageLimits({ maxDimension: value as unknown as number }), 'invalid_argument');
    });
  }

  it('refuses unknown keys and non-objects', () => {
    const err = throwsWith(() => resolveImageLimits({ maxBytes: 10 } as unknown as Partial<ImageLimits>), 'invalid_argument');
    assert.match(err.message, /maxBytes/);
    throwsWith(() => resolveImageLimits(null as unknown as Partial<ImageLimits>), 'invalid_argument');
    throwsWith(() => resolveImageLimits([] as unknown as Partial<ImageLimits>), 'invalid_argument');
  });
});
