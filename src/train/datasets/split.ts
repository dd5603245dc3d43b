import { createHash } from 'node:crypto';

/** A stable train/val assignment from a key, so the same image always lands in the same split. */
export function hashSplit(key: string, valFraction: number): 'train' | 'val' {
  const value = createHash('sha1').update(key).digest().readUInt32BE(0) / 0x100000000;
  return value < valFraction ? 'val' : 'train';
}
