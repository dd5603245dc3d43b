// Masks as 8-bit greyscale PNGs whose pixel values are label indices (the format of the
// Clothing Co-Parsing masks), written atomically and only into a folder that exists.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../errors.ts';
import { encodeLabelMaskPng } from '../image/encode.ts';
import { writeAtomic } from '../model/cache.ts';

export async function encodeMaskPng(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || mask.length !== width * height) {
    throw new GroknetError('invalid_argument', `a ${width}x${height} mask needs ${width * height} values, got ${mask.length}`);
  }
  return encodeLabelMaskPng(mask, width, height);
}

/**
 * Checks an output path before any work is done: its folder must exist (a typo should not
 * create folders, nor be found out after the model ran) and it must not be a folder itself.
 */
export async function checkOutputFile(file: string): Promise<string> {
  const resolved = path.resolve(file);
  const dir = path.dirname(resolved);
  const dirInfo = await stat(dir).catch(() => undefined);
  if (!dirInfo) throw new GroknetError('invalid_argument', `--out: the folder ${dir} does not exist`);
  if (!dirInfo.isDirectory()) throw new GroknetError('invalid_argument', `--out: ${dir} is not a folder`);
  const target = await stat(resolved).catch(() => undefined);
  if (target?.isDirectory()) throw new GroknetError('invalid_argument', `--out: ${resolved} is a folder; give a file name such as mask.png`);
  return resolved;
}

export async function writeMaskPng(file: string, mask: Uint8Array, width: number, height: number): Promise<string> {
  const resolved = await checkOutputFile(file);
  await writeAtomic(resolved, await encodeMaskPng(mask, width, height));
  return resolved;
}
