// Masks written as 8-bit greyscale PNGs of label indices, only where a folder exists.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { isGroknetError } from '../../src/errors.ts';
import { encodeMaskPng, writeMaskPng } from '../../src/segment/mask-png.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = await tempDir('groknet-mask-');
after(() => tmp.cleanup());

test('the PNG is the mask: its size, one 8-bit channel, the label indices unchanged', async () => {
  const width = 37;
  const height = 23;
  const mask = Uint8Array.from({ length: width * height }, (_, i) => (i * 7) % 59);
  mask[0] = 255; // the whole byte range survives
  const file = await writeMaskPng(path.join(tmp.path, 'mask.png'), mask, width, height);
  const meta = await sharp(file).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, width);
  assert.equal(meta.height, height);
  assert.equal(meta.channels, 1);
  assert.equal(meta.depth, 'uchar');
  assert.equal(meta.hasAlpha, false);
  // IHDR: bit depth 8, colour type 0 (greyscale): no palette, any PNG reader gets the indices.
  const bytes = await readFile(file);
  assert.equal(bytes[24], 8);
  assert.equal(bytes[25], 0);
  const { data } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual(new Uint8Array(data), mask);
  // Written by rename: no temporary file is left beside it.
  assert.deepEqual(await readdir(tmp.path), ['mask.png']);
});

test('writing is refused into a folder that does not exist, or onto a folder', async () => {
  const mask = new Uint8Array(4);
  await assert.rejects(writeMaskPng(path.join(tmp.path, 'no-such-folder', 'mask.png'), mask, 2, 2), (error: unknown) => {
    assert.ok(isGroknetError(error));
    assert.equal(error.code, 'invalid_argument');
    assert.match(error.message, /folder .*no-such-folder does not exist/);
    return true;
  });
  await mkdir(path.join(tmp.path, 'masks'));
  await assert.rejects(writeMaskPng(path.join(tmp.path, 'masks'), mask, 2, 2), /is a folder/);
  await assert.rejects(encodeMaskPng(mask, 3, 2), /needs 6 values/);
});
