// `groknet segment` as a user runs it, on generated photos and a generated decoder over
// the real trunk: the mask file, the output formats, and the errors.
import assert from 'node:assert/strict';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { Segmenter } from '../../src/pipelines/segment.ts';
import { TEXT_FILE, truncatedJpeg } from '../helpers/bad-images.ts';
import { tempDir } from '../helpers/tmp.ts';
import { createConstantSegmentModel, TEST_LABELS } from './helpers.ts';
import { runCli } from '../helpers/cli.ts';


const run = runCli;

const tmp = await tempDir('groknet-segment-cli-');
let modelDir: string;
let redPhoto: string;

before(async () => {
  modelDir = (await createConstantSegmentModel('dress')).dir;
  redPhoto = path.join(tmp.path, 'red.png');
  await writeFile(redPhoto, await sharp({ create: { width: 60, height: 90, channels: 3, background: { r: 200, g: 30, b: 35 } } }).png().toBuffer());
});
after(() => tmp.cleanup());

async function maskOf(file: string): Promise<{ width: number; height: number; values: Set<number> }> {
  const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, values: new Set(data) };
}

test('--json: writes the mask the size of the photo and prints each garment', async () => {
  const out = path.join(tmp.path, 'red-mask.png');
  const { code, stdout, stderr } = await run(['segment', redPhoto, '--out', out, '--json', '--model', modelDir]);
  assert.equal(code, 0, stderr);
  const line = JSON.parse(stdout) as { file: string; mask: string; width: number; height: number; garments: Array<Record<string, unknown>> };
  assert.equal(line.file, redPhoto);
  assert.equal(line.mask, out);
  assert.deepEqual([line.width, line.height], [60, 90]);
  assert.deepEqual(line.garments, [{ label: 'dress', labelIndex: 1, areaShare: 1, colour: 'red', colourShare: 1, box: [0, 0, 60, 90] }]);
  const mask = await maskOf(out);
  assert.deepEqual([mask.width, mask.height], [60, 90]);
  assert.deepEqual([...mask.values], [TEST_LABELS.indexOf('dress')]);
});

test('text output: one line per garment with share, colour and box', async () => {
  const out = path.join(tmp.path, 'text-mask.png');
  const { code, stdout } = await run(['segment', redPhoto, '--out', out, '--model', modelDir]);
  assert.equal(code, 0);
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /red\.png {2}60x90 {2}mask: .*text-mask\.png {2}\(1 garment\)$/);
  assert.match(lines[1]!, /^ {2}dress +100\.0% {2}red +0,0 60x90$/);
});

test('the mask follows EXIF orientation: it has the size the photo is shown at', async () => {
  const rotated = path.join(tmp.path, 'rotated.jpg');
  // Stored 40x24, orientation 6 (rotate 90 degrees): shown 24x40.
  await writeFile(rotated, await sharp({ create: { width: 40, height: 24, channels: 3, background: '#2040c0' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer());
  const out = path.join(tmp.path, 'rotated-mask.png');
  const { code, stdout } = await run(['segment', rotated, '--out', out, '--json', '--model', modelDir]);
  assert.equal(code, 0);
  assert.deepEqual([(JSON.parse(stdout) as { width: number }).width, (JSON.parse(stdout) as { height: number }).height], [24, 40]);
  const mask = await maskOf(out);
  assert.deepEqual([mask.width, mask.height], [24, 40]);
});

test('a photo that cannot be read is a typed error line, exit 1, and no mask', async () => {
  const cases: Array<[string, Buffer | undefined, string]> = [
    ['notes.png', TEXT_FILE, 'not_an_image'],
    ['cut.jpg', await truncatedJpeg(), 'truncated'],
    ['empty.jpg', Buffer.alloc(0), 'empty_file'],
    ['missing.png', undefined, 'file_not_found'],
  ];
  for (const [name, bytes, expected] of cases) {
    const file = path.join(tmp.path, name);
    if (bytes) await writeFile(file, bytes);
    const out = path.join(tmp.path, `${name}-mask.png`);
    const json = await run(['segment', file, '--out', out, '--json', '--model', modelDir]);
    assert.equal(json.code, 1, name);
    const line = JSON.parse(json.stdout) as { file: string; error: { code: string; message: string } };
    assert.equal(line.error.code, expected, name);
    assert.ok(line.error.message.length > 0);
    await assert.rejects(access(out), `${name}: no mask is written`);
  }
  const text = await run(['segment', path.join(tmp.path, 'notes.png'), '--out', path.join(tmp.path, 'm.png'), '--model', modelDir]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /notes\.png\n {2}error not_an_image: /);
});

test('refuses an output folder that does not exist, an output that is a folder, and bad options: exit 2', async () => {
  const missing = await run(['segment', redPhoto, '--out', path.join(tmp.path, 'nope', 'mask.png'), '--model', modelDir]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--out: the folder .*nope does not exist \[invalid_argument\]/);
  await mkdir(path.join(tmp.path, 'masks'), { recursive: true });
  const folder = await run(['segment', redPhoto, '--out', path.join(tmp.path, 'masks'), '--model', modelDir]);
  assert.equal(folder.code, 2);
  assert.match(folder.stderr, /is a folder/);
  const noOut = await run(['segment', redPhoto]);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /usage: groknet segment FILE --out MASK\.png/);
  const twoFiles = await run(['segment', redPhoto, redPhoto, '--out', path.join(tmp.path, 'm.png')]);
  assert.equal(twoFiles.code, 2);
  const share = await run(['segment', redPhoto, '--out', path.join(tmp.path, 'm.png'), '--min-share', '2']);
  assert.equal(share.code, 2);
  assert.match(share.stderr, /--min-share/);
  const noModel = await run(['segment', redPhoto, '--out', path.join(tmp.path, 'm.png'), '--model', tmp.path]);
  assert.equal(noModel.code, 1);
  assert.match(noModel.stderr, /model_not_found/);
  const tta = await run(['segment', redPhoto, '--out', path.join(tmp.path, 'm.png'), '--model', modelDir, '--tta', 'sideways']);
  assert.notEqual(tta.code, 0);
  assert.match(tta.stderr, /invalid_argument/);
});

test('--tta none segments without the mirrored run and writes the same-sized mask', async () => {
  const out = path.join(tmp.path, 'no-tta.png');
  const { code, stdout } = await run(['segment', redPhoto, '--out', out, '--json', '--model', modelDir, '--tta', 'none']);
  assert.equal(code, 0);
  assert.ok(JSON.parse(stdout).garments.length > 0);
});

test('the pipeline segments a batch in order, a bad photo failing alone', async () => {
  const segmenter = await Segmenter.open(modelDir, { batchSize: 2 });
  try {
    const red = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#c81e23' } }).png().toBuffer();
    const results = await segmenter.segmentBuffers([red, TEXT_FILE, red]);
    assert.equal(results.length, 3);
    assert.ok(!(results[0] instanceof Error) && results[0]!.segmentation.width === 30 && results[0]!.segmentation.height === 20);
    assert.ok(results[1] instanceof Error && (results[1] as { code?: string }).code === 'not_an_image');
    assert.ok(!(results[2] instanceof Error));
  } finally {
    await segmenter.close();
  }
});
