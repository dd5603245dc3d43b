// Shop the look on generated photos: garments found (largest first, capped, boxes in the
// photo's pixels also when it was shrunk for the segmenter, colours from their own pixels),
// one region search per garment with the colour filter on request, the errors; and once
// with the real Segmenter (real trunk, a generated decoder that calls every pixel a dress).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { GroknetError } from '../../src/errors.ts';
import { Segmenter } from '../../src/pipelines/segment.ts';
import { findGarments, searchGarments, SEGMENT_MAX_SIDE, shopTheLook, type PhotoGarments, type PixelRegion, type SearchRegion } from '../../src/pipelines/shop-the-look.ts';
import type { Filters, SearchResult } from '../../src/search/types.ts';
import { TEXT_FILE, truncatedJpeg } from '../helpers/bad-images.ts';
import { scenePhoto, type Block } from '../helpers/scripted-detector.ts';
import { scriptedSegmenter, type ScriptedGarment } from '../helpers/scripted-segmenter.ts';
import { TINY_COLOURS } from '../helpers/tiny-model.ts';
import { createConstantSegmentModel } from '../segment/helpers.ts';

// A red tee and a larger blue dress on grey; a face (skin) and a tiny yellow hat.
const TEE: Block = { rgb: TINY_COLOURS.red!, at: [0.1, 0.3, 0.25, 0.4] };
const DRESS: Block = { rgb: TINY_COLOURS.blue!, at: [0.5, 0.1, 0.4, 0.8] };
const HAT: Block = { rgb: TINY_COLOURS.yellow!, at: [0.1, 0.05, 0.04, 0.03] };
const FACE: Block = { rgb: [230, 180, 150], at: [0.1, 0.1, 0.1, 0.15] };
const SCRIPT: ScriptedGarment[] = [
  { label: 't-shirt', at: TEE.at },
  { label: 'dress', at: DRESS.at },
  { label: 'hat', at: HAT.at },
  { label: 'skin', at: FACE.at },
];

/** Records every region search and answers one made-up hit per call. */
function recordingSearch(): { searchRegion: SearchRegion; calls: Array<{ region: PixelRegion; filters: Filters; limit: number }> } {
  const calls: Array<{ region: PixelRegion; filters: Filters; limit: number }> = [];
  return {
    calls,
    searchRegion: async (_photo, region, filters, limit) => {
      calls.push({ region, filters, limit });
      const hit: SearchResult = { id: `hit-${calls.length}`, score: 0.9, match: 'similar', why: [], title: 'a product', image: 'x.png', price: null, currency: null };
      return [hit];
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof GroknetError && error.code === code);
}

describe('findGarments', () => {
  test('each garment once, largest first, its box in the photo and its own colour; skin and tiny pieces left out', async () => {
    const photo = await scenePhoto(300, 200, [TEE, DRESS, HAT, FACE]);
    const segmenter = scriptedSegmenter(SCRIPT);
    const found = await findGarments(photo, { segmenter });
    assert.deepEqual([found.width, found.height], [300, 200]);
    assert.deepEqual(found.garments.map((g) => g.label), ['dress', 't-shirt'], 'the hat covers 0.12% of the photo, under the 0.5% default');
    const [dress, tee] = found.garments as [PhotoGarments['garments'][0], PhotoGarments['garments'][0]];
    assert.deepEqual(dress.box, [150, 20, 120, 160]);
    assert.equal(dress.colour, 'blue');
    assert.equal(dress.colourShare, 1);
    assert.ok(Math.abs(dress.areaShare - 0.32) < 1e-9);
    assert.deepEqual(tee.box, [30, 60, 75, 80]);
    assert.equal(tee.colour, 'red');
    assert.equal('labelIndex' in tee, false, 'the mask value is not part of a garment');

    const all = await findGarments(photo, { segmenter, minShare: 0 });
    assert.deepEqual(all.garments.map((g) => g.label), ['dress', 't-shirt', 'hat']);
    assert.equal(all.garments[2]!.colour, 'yellow');
    const one = await findGarments(photo, { segmenter, maxGarments: 1 });
    assert.deepEqual(one.garments.map((g) => g.label), ['dress']);
  });

  test('a large photo is segmented at 1024 px, boxes come back in its own pixels', async () => {
    const photo = await scenePhoto(2400, 1200, [TEE, DRESS]);
    const segmenter = scriptedSegmenter(SCRIPT);
    const found = await findGarments(photo, { segmenter });
    assert.deepEqual(segmenter.sizes, [[SEGMENT_MAX_SIDE, 512]]);
    assert.deepEqual([found.width, found.height], [2400, 1200]);
    const dress = found.garments[0]!;
    const expected = [1200, 120, 960, 960];
    dress.box.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= 3, `box ${dress.box.join(',')} vs ${expected.join(',')}`));
    assert.ok(dress.box[0] + dress.box[2] <= 2400 && dress.box[1] + dress.box[3] <= 1200, 'inside the photo');
    assert.equal(dress.colour, 'blue');
  });

  test('the frame is the upright photo: EXIF orientation applied before segmenting', async () => {
    // Stored 40x24, orientation 6: shown 24x40.
    const rotated = await sharp({ create: { width: 40, height: 24, channels: 3, background: '#1e28d2' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const segmenter = scriptedSegmenter([{ label: 'dress', at: [0, 0, 1, 1] }]);
    const found = await findGarments(rotated, { segmenter });
    assert.deepEqual([found.width, found.height], [24, 40]);
    assert.deepEqual(found.garments[0]!.box, [0, 0, 24, 40]);
  });

  test('a photo that cannot be read fails with its image error, before the segmenter runs', async () => {
    const segmenter = scriptedSegmenter(SCRIPT);
    await rejectsWith(findGarments(TEXT_FILE, { segmenter }), 'not_an_image');
    await rejectsWith(findGarments(await truncatedJpeg(), { segmenter }), 'truncated');
    await rejectsWith(findGarments(Buffer.alloc(0), { segmenter }), 'empty_file');
    assert.equal(segmenter.calls, 0);
  });

  test('options out of range are invalid_argument', async () => {
    const photo = await scenePhoto(30, 20, [TEE]);
    const segmenter = scriptedSegmenter(SCRIPT);
    await rejectsWith(findGarments(photo, { segmenter, maxGarments: 0 }), 'invalid_argument');
    await rejectsWith(findGarments(photo, { segmenter, maxGarments: 11 }), 'invalid_argument');
    await rejectsWith(findGarments(photo, { segmenter, minShare: 2 }), 'invalid_argument');
    assert.equal(segmenter.calls, 0);
  });
});

describe('searchGarments', () => {
  const found: PhotoGarments = {
    width: 300,
    height: 200,
    garments: [
      { label: 'dress', box: [150, 20, 120, 160], areaShare: 0.32, colour: 'blue', colourShare: 1 },
      { label: 'shoes', box: [10, 180, 40, 20], areaShare: 0.013, colour: undefined, colourShare: 0 },
    ],
  };

  test('one search per garment by its box, k results, no filter unless colours are matched', async () => {
    const { searchRegion, calls } = recordingSearch();
    const look = await searchGarments(Buffer.alloc(1), found, { searchRegion, k: 5 });
    assert.deepEqual(
      calls.map((c) => [c.region, c.filters, c.limit]),
      [
        [{ x: 150, y: 20, w: 120, h: 160 }, {}, 5],
        [{ x: 10, y: 180, w: 40, h: 20 }, {}, 5],
      ],
    );
    assert.deepEqual(look.garments.map((g) => [g.label, g.filters, g.results.length]), [['dress', {}, 1], ['shoes', {}, 1]]);
    assert.deepEqual([look.width, look.height], [300, 200]);
  });

  test("matching colours filters each garment by its own colour; one without a colour is searched unfiltered", async () => {
    const { searchRegion, calls } = recordingSearch();
    const look = await searchGarments(Buffer.alloc(1), found, { searchRegion, colourField: 'colour' });
    assert.deepEqual(calls.map((c) => c.filters), [{ colour: { eq: 'blue' } }, {}]);
    assert.deepEqual(calls.map((c) => c.limit), [8, 8], 'default k');
    assert.deepEqual(look.garments.map((g) => g.filters), [{ colour: 'blue' }, {}]);
  });

  test('a photo without garments searches nothing; a bad k is refused before any work', async () => {
    const { searchRegion, calls } = recordingSearch();
    assert.deepEqual(await searchGarments(Buffer.alloc(1), { width: 5, height: 5, garments: [] }, { searchRegion }), { width: 5, height: 5, garments: [] });
    const segmenter = scriptedSegmenter(SCRIPT);
    const photo = await scenePhoto(30, 20, [TEE]);
    await rejectsWith(shopTheLook(photo, { segmenter, searchRegion, k: 0 }), 'invalid_argument');
    await rejectsWith(shopTheLook(photo, { segmenter, searchRegion, k: 51 }), 'invalid_argument');
    assert.equal(segmenter.calls, 0);
    assert.equal(calls.length, 0);
  });

  test('a failing search fails the whole look with its error', async () => {
    const failing: SearchRegion = async () => {
      throw new GroknetError('overloaded', 'busy');
    };
    await rejectsWith(searchGarments(Buffer.alloc(1), found, { searchRegion: failing }), 'overloaded');
  });
});

describe('with the real segmenter', () => {
  let segmenter: Segmenter;
  before(async () => {
    segmenter = await Segmenter.open((await createConstantSegmentModel('dress')).dir);
  });
  after(async () => segmenter?.close());

  test('photo bytes -> segmentation -> one dress the size of the photo, red, searched by its box', async () => {
    const photo = await sharp({ create: { width: 60, height: 90, channels: 3, background: { r: 200, g: 30, b: 35 } } }).png().toBuffer();
    const { searchRegion, calls } = recordingSearch();
    const look = await shopTheLook(photo, { segmenter, searchRegion, k: 3, colourField: 'colour' });
    assert.deepEqual([look.width, look.height], [60, 90]);
    assert.equal(look.garments.length, 1);
    const [dress] = look.garments as [(typeof look.garments)[0]];
    assert.equal(dress.label, 'dress');
    assert.deepEqual(dress.box, [0, 0, 60, 90]);
    assert.equal(dress.areaShare, 1);
    assert.equal(dress.colour, 'red');
    assert.deepEqual(calls, [{ region: { x: 0, y: 0, w: 60, h: 90 }, filters: { colour: { eq: 'red' } }, limit: 3 }]);
  });
});
