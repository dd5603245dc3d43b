// detectProducts end to end: the real CenterNet (converted from the npm package) with the
// tiny test model as the unified model; a scripted detector for exact crop checks.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { CenterNetDetector } from '../../src/detect/centernet.ts';
import { COCO_CLASSES, type CocoClass } from '../../src/detect/coco-classes.ts';
import type { Detection, Detector } from '../../src/detect/detector.ts';
import { GroknetError } from '../../src/errors.ts';
import type { DecodedImage } from '../../src/image/decode.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { cropRect, detectProducts, type ImageProducts } from '../../src/pipelines/detect.ts';
import { TEXT_FILE, truncatedJpeg } from '../helpers/bad-images.ts';
import { createTinyModel, TINY_COLOURS } from '../helpers/tiny-model.ts';

let analyzer: ModelAnalyzer;
let centernet: CenterNetDetector;

before(async () => {
  const { dir } = await createTinyModel();
  [analyzer, centernet] = await Promise.all([ModelAnalyzer.open(dir, { batchSize: 8 }), CenterNetDetector.open({ threads: 2 })]);
});
after(async () => Promise.all([analyzer?.close(), centernet?.close()]));

/** A detector that reports fixed boxes, given as fractions of the decoded image. */
function scriptedDetector(boxes: Array<{ at: [number, number, number, number]; cls: CocoClass; score: number }>): Detector & { seen: DecodedImage[] } {
  const seen: DecodedImage[] = [];
  return {
    name: 'centernet',
    input: centernet.input,
    seen,
    async detect(image): Promise<Detection[]> {
      assert.ok(!Buffer.isBuffer(image), 'the pipeline hands the detector decoded pixels');
      seen.push(image);
      return boxes.map(({ at: [x, y, w, h], cls, score }) => ({
        box: [x * image.width, y * image.height, w * image.width, h * image.height],
        classId: COCO_CLASSES.indexOf(cls),
        class: cls,
        score,
      }));
    },
    async close() {},
  };
}

/** Red on top, blue below, as displayed; stored rotated with EXIF orientation 6 when asked. */
async function twoToneJpeg(rotated: boolean): Promise<Buffer> {
  const [w, h] = [120, 160];
  const half = (rgb: readonly number[]) => sharp({ create: { width: w, height: h / 2, channels: 3, background: { r: rgb[0]!, g: rgb[1]!, b: rgb[2]! } } }).png().toBuffer();
  const upright = await sharp({ create: { width: w, height: h, channels: 3, background: '#000' } })
    .composite([{ input: await half(TINY_COLOURS.red!), top: 0, left: 0 }, { input: await half(TINY_COLOURS.blue!), top: h / 2, left: 0 }])
    .png()
    .toBuffer();
  // Orientation 6 means "rotate 90 degrees clockwise to display": store it turned the other way.
  if (!rotated) return sharp(upright).jpeg({ quality: 95 }).toBuffer();
  return sharp(upright).rotate(-90).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
}

function topLabel(product: ImageProducts['products'][number]): string | undefined {
  const head = product.analysis.heads.colour;
  return head?.kind === 'single' ? head.top[0]?.label : undefined;
}

test('each product is cropped from the displayed photo and analysed on its own', async () => {
  const detector = scriptedDetector([
    { at: [0, 0, 1, 0.5], cls: 'handbag', score: 0.9 },
    { at: [0, 0.5, 1, 0.5], cls: 'laptop', score: 0.8 },
    { at: [0.1, 0.1, 0.2, 0.2], cls: 'bird', score: 0.85 }, // no product meaning: dropped
    { at: [0.2, 0.6, 0.5, 0.3], cls: 'person', score: 0.7 },
  ]);
  for (const rotated of [false, true]) {
    const [result] = await detectProducts([await twoToneJpeg(rotated)], { detector, analyzer, margin: 0 });
    assert.ok(result && !(result instanceof GroknetError), String(result));
    assert.deepEqual(result.size, { width: 120, height: 160 }, 'boxes refer to the photo as displayed');
    assert.deepEqual(result.products.map((p) => [p.class, p.vertical, topLabel(p)]), [
      ['handbag', 'fashion', 'red'],
      ['laptop', 'electronics', 'blue'],
      ['person', null, 'blue'],
    ], rotated ? 'EXIF-rotated photo' : 'upright photo');
    for (const p of result.products) {
      assert.equal(p.box.length, 4);
      assert.equal(p.analysis.embedding.length, 16);
      assert.match(p.analysis.code, /^[0-9a-f]{4}$/);
    }
  }
  assert.equal(detector.seen[1]!.width, 120, 'the detector saw the oriented pixels too');
});

test('maxProducts keeps the best products', async () => {
  const detector = scriptedDetector([
    { at: [0, 0, 1, 0.5], cls: 'cup', score: 0.5 },
    { at: [0, 0.5, 1, 0.5], cls: 'bottle', score: 0.9 },
  ]);
  const [result] = await detectProducts([await twoToneJpeg(false)], { detector, analyzer, maxProducts: 1 });
  assert.ok(result && !(result instanceof GroknetError));
  assert.deepEqual(result.products.map((p) => p.class), ['cup'], 'the detector ranks; the pipeline keeps its first');
  await assert.rejects(detectProducts([], { detector, analyzer, maxProducts: 0 }), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_argument');
  await assert.rejects(detectProducts([], { detector, analyzer, minScore: 2 }), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_argument');
});

test('crop rectangles: margin added, kept inside the photo, never empty', () => {
  assert.deepEqual(cropRect([10, 20, 100, 50], 0.1, { width: 400, height: 300 }), { left: 0, top: 15, width: 120, height: 60 });
  assert.deepEqual(cropRect([350, 250, 100, 100], 0.05, { width: 400, height: 300 }), { left: 345, top: 245, width: 55, height: 55 });
  assert.deepEqual(cropRect([12.4, 7.6, 0.1, 0.1], 0, { width: 400, height: 300 }), { left: 12, top: 7, width: 1, height: 1 });
  assert.deepEqual(cropRect([400, 300, 0, 0], 0, { width: 400, height: 300 }), { left: 399, top: 299, width: 1, height: 1 });
});

test('real CenterNet: valid products on a generated photo, typed errors for bad images, in order', async () => {
  // A generated "shop shelf": coloured blocks on grey. CenterNet may well find nothing in
  // it; whatever it finds must be well formed and inside the photo.
  const blocks = await Promise.all(
    ['#c0392b', '#2980b9', '#f1c40f'].map((c) => sharp({ create: { width: 90, height: 140, channels: 3, background: c } }).png().toBuffer()),
  );
  const shelf = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#9a9a9a' } })
    .composite(blocks.map((input, i) => ({ input, left: 30 + i * 120, top: 100 })))
    .jpeg()
    .toBuffer();
  const results = await detectProducts([TEXT_FILE, shelf, await truncatedJpeg(), Buffer.alloc(0)], { detector: centernet, analyzer, minScore: 0.05 });
  assert.deepEqual(results.map((r) => (r instanceof GroknetError ? r.code : 'ok')), ['not_an_image', 'ok', 'truncated', 'empty_file']);
  const found = results[1] as ImageProducts;
  assert.deepEqual(found.size, { width: 400, height: 300 });
  for (const p of found.products) {
    const [x, y, w, h] = p.box;
    assert.ok(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= 400 + 1e-6 && y + h <= 300 + 1e-6, `box ${p.box}`);
    assert.ok(p.score >= 0.05 && p.score <= 1);
    assert.ok(COCO_CLASSES.includes(p.class));
    assert.ok(p.analysis.heads.colour);
  }
  assert.ok(found.products.length <= 10);
});
