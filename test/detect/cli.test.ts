// `groknet detect`: the JSON line format, and the command run as a user runs it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { detectCommand, detectJsonLine } from '../../src/cli/commands/detect.ts';
import { GroknetError } from '../../src/errors.ts';
import type { ImageProducts } from '../../src/pipelines/detect.ts';
import { GROKNET_BIN as BIN } from '../helpers/cli.ts';
import { createTinyModel } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';

const run = promisify(execFile);

const found: ImageProducts = {
  size: { width: 640, height: 480 },
  products: [
    {
      box: [10.04, 20.26, 100.5, 200.123456],
      class: 'handbag',
      vertical: 'fashion',
      score: 0.812345,
      analysis: { heads: { colour: { kind: 'single', top: [{ label: 'red', score: 0.9 }], abstain: false } }, embedding: new Float32Array([0.6, 0.8]), code: 'ab' },
    },
    {
      box: [0, 0, 320, 480],
      class: 'person',
      vertical: null,
      score: 0.5,
      analysis: { heads: {}, embedding: new Float32Array([1, 0]), code: '00' },
    },
  ],
};

test('a JSON line per file: products with box, class, vertical, score and analysis; embedding only when asked', () => {
  const line = JSON.parse(JSON.stringify(detectJsonLine('shelf.jpg', found))) as Record<string, unknown>;
  assert.deepEqual(line, {
    file: 'shelf.jpg',
    products: [
      {
        box: [10, 20.3, 100.5, 200.1],
        class: 'handbag',
        vertical: 'fashion',
        score: 0.8123,
        analysis: { heads: { colour: { kind: 'single', top: [{ label: 'red', score: 0.9 }], abstain: false } }, code: 'ab' },
      },
      { box: [0, 0, 320, 480], class: 'person', vertical: null, score: 0.5, analysis: { heads: {}, code: '00' } },
    ],
  });
  const withEmbedding = detectJsonLine('shelf.jpg', found, { embedding: true }) as { products: Array<{ analysis: { embedding: number[] } }> };
  assert.deepEqual(withEmbedding.products[0]!.analysis.embedding, [0.6, 0.8]);
  assert.deepEqual(Object.keys(withEmbedding.products[0]!.analysis), ['heads', 'embedding', 'code']);
  assert.deepEqual(detectJsonLine('empty.jpg', { size: { width: 1, height: 1 }, products: [] }), { file: 'empty.jpg', products: [] });
});

test('an error line has the same shape as `groknet analyze`', () => {
  const error = new GroknetError('not_an_image');
  assert.deepEqual(detectJsonLine('notes.txt', error), { file: 'notes.txt', error: { code: 'not_an_image', message: error.message } });
});

let dir: { path: string; cleanup: () => Promise<void> };
let modelDir: string;
before(async () => {
  dir = await tempDir('groknet-detect-cli-');
  modelDir = (await createTinyModel(dir.path)).dir;
});
after(async () => dir?.cleanup());

test('the command prints one line per file in order and exits 1 when one failed', async () => {
  const photo = path.join(dir.path, 'photo.png');
  const text = path.join(dir.path, 'notes.txt');
  await sharp({ create: { width: 200, height: 150, channels: 3, background: '#88aa44' } }).png().toFile(photo);
  await writeFile(text, 'not an image');
  const failed = await run(process.execPath, [BIN, 'detect', '--json', '--model', modelDir, photo, text, path.join(dir.path, 'missing.jpg')]).catch(
    (e: { code: number; stdout: string }) => e,
  );
  assert.ok('code' in failed && failed.code === 1, 'exit status 1');
  const lines = failed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; products?: unknown[]; error?: { code: string } });
  assert.deepEqual(lines.map((l) => l.file), [photo, text, path.join(dir.path, 'missing.jpg')]);
  assert.ok(Array.isArray(lines[0]!.products));
  assert.equal(lines[1]!.error?.code, 'not_an_image');
  assert.equal(lines[2]!.error?.code, 'file_not_found');

  const ok = await run(process.execPath, [BIN, 'detect', '--json', '--detector', 'nanodet', '--min-score', '0.5', '--model', modelDir, photo]);
  assert.equal(JSON.parse(ok.stdout.trim()).file, photo, 'exit 0 when every file succeeded');
});

test('bad options are refused before any model is opened (main maps invalid_argument to exit 2)', async () => {
  for (const args of [['--detector', 'yolo'], ['--min-score', '1.5'], ['--min-score', ''], ['--max-products', '0'], ['--bogus']]) {
    await assert.rejects(detectCommand([...args, 'x.jpg']), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_argument', args.join(' '));
  }
});
