// Bytes of a sample's image: a file path, or "<IDX images file>#<index>" for IDX datasets.
import { readFile } from 'node:fs/promises';
import type { DecodedImage } from '../../image/decode.ts';
import { idxImagePng, idxImageRgb } from './fashion-mnist.ts';

const IDX_REF = /^(.*\.idx3-ubyte(?:\.gz)?|.*-idx3-ubyte(?:\.gz)?)#(\d+)$/;

export async function readSampleBytes(ref: string): Promise<Buffer> {
  const idx = IDX_REF.exec(ref);
  if (idx) return idxImagePng(idx[1]!, Number(idx[2]));
  return readFile(ref);
}

/** Decoded pixels of an IDX sample (no encoded form to read); undefined for a file path. */
export async function readIdxSample(ref: string): Promise<DecodedImage | undefined> {
  const idx = IDX_REF.exec(ref);
  return idx ? idxImageRgb(idx[1]!, Number(idx[2])) : undefined;
}
