// Size limits for untrusted image input, checked before any pixel is decoded.

import { GroknetError } from '../errors.ts';

export interface ImageLimits {
  /** Largest encoded input accepted, in bytes. */
  readonly maxInputBytes: number;
  /** Largest canvas (width * height) accepted; also passed to sharp's limitInputPixels. */
  readonly maxPixels: number;
  /** Largest width or height accepted, in pixels. */
  readonly maxDimension: number;
}

export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxInputBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
  maxDimension: 20_000,
});

const LIMIT_KEYS: ReadonlyArray<keyof ImageLimits> = ['maxInputBytes', 'maxPixels', 'maxDimension'];

/**
 * Fills unset fields from the defaults and checks every value. Limits often come from
 * config files, so unknown keys are refused too: a typo must not silently disable a limit.
 */
export function resolveImageLimits(overrides?: Partial<ImageLimits>): ImageLimits {
  if (overrides === undefined) return DEFAULT_IMAGE_LIMITS;
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new GroknetError('invalid_argument', 'image limits must be an object');
  }
  for (const key of Object.keys(overrides)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) {
      throw new GroknetError('invalid_argument', `unknown image limit "${key}"`);
    }
  }
  const pick = (key: keyof ImageLimits): number => {
    // Only `undefined` means "use the default"; null or NaN from a config file is an error.
    const value: unknown = overrides[key];
    if (value === undefined) return DEFAULT_IMAGE_LIMITS[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new GroknetError('invalid_argument', `image limit ${key} must be a positive integer, got ${String(value)}`);
    }
    return value;
  };
  return { maxInputBytes: pick('maxInputBytes'), maxPixels: pick('maxPixels'), maxDimension: pick('maxDimension') };
}
