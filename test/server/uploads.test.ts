// Uploaded photos on disk (src/server/image-store.ts): stored and served without metadata
// (a seller's GPS position must never be published), and removed with the last product
// that uses them, only after the catalog commit.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { GroknetError } from '../../src/errors.ts';
import { buildApp, type App } from '../../src/server/app.ts';
import { ImageStore, withoutMetadata } from '../../src/server/image-store.ts';
import { crc32 } from '../../src/util/crc32.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';
import { assertError, multipart } from './helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from './helpers/server.ts';
import { createShopModel } from './helpers/shop-model.ts';

let shop: TestShop;
let app: App;
const auth = { authorization: `Bearer ${TEST_KEY}` };
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

before(async () => {
  const { dir } = await createShopModel();
  shop = await openTestShop(dir);
  app = await shop.app();
});
after(async () => shop?.close());

async function publish(image: Buffer, title: string, type = 'image/jpeg', on: App = app) {
  const body = await multipart({ title }, [{ data: image, type, name: 'photo' }]);
  return on.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, ...auth } });
}

const imagesDir = () => path.join(shop.dataDir, 'images');
const storedPath = (url: string) => path.join(imagesDir(), url.split('/').pop()!);

// --- fixtures: photos carrying a seller's position in every place a camera or editor puts it

const SECRET = 'SELLER-HOME-48.8566N-2.3522E';
const EXIF = {
  IFD0: { Make: 'AcmeCam', Model: `AcmeCam SN-77341 ${SECRET}`, ImageDescription: SECRET },
  IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2376/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 768/100' },
};
const XMP = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.396N" exif:GPSLongitude="2,21.128E"><exif:UserComment>${SECRET}</exif:UserComment></rdf:Description></rdf:RDF></x:xmpmeta>`;

/** Whether an EXIF block (as sharp's metadata gives it: "Exif\0\0" + TIFF) has a GPS IFD pointer in IFD0. */
function hasGpsIfd(exif: Buffer): boolean {
  const tiff = exif.subarray(exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? 6 : 0);
  const little = tiff.toString('latin1', 0, 2) === 'II';
  const u16 = (o: number) => (little ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o: number) => (little ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  const ifd0 = u32(4);
  for (let i = 0; i < u16(ifd0); i++) if (u16(ifd0 + 2 + i * 12) === 0x8825) return true;
  return false;
}

function jpegSegment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/**
 * A red 64x48 JPEG shot "rotated" (EXIF orientation 6) with a Display P3 profile, GPS in
 * EXIF and XMP, an IPTC block (APP13), a comment (COM) and bytes after the end of the image.
 */
async function gpsJpeg(): Promise<Buffer> {
  const [r, g, b] = TINY_COLOURS.red!;
  const base = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r, g, b } } })
    .withExif(EXIF)
    .withXmp(XMP)
    .withMetadata({ orientation: 6 })
    .withIccProfile('p3')
    .jpeg({ quality: 95 })
    .toBuffer();
  const dataset = Buffer.concat([Buffer.from([0x1c, 0x02, 0x5a, 0x00, SECRET.length]), Buffer.from(SECRET, 'latin1')]); // IPTC City
  const resource = Buffer.alloc(4);
  resource.writeUInt32BE(dataset.length);
  const iptc = Buffer.concat([Buffer.from('Photoshop 3.0\0' + '8BIM\x04\x04\0\0', 'latin1'), resource, dataset, Buffer.alloc(dataset.length % 2)]);
  const extra = Buffer.concat([jpegSegment(0xed, iptc), jpegSegment(0xfe, Buffer.from(`taken at ${SECRET}`))]);
  return Buffer.concat([base.subarray(0, 2), extra, base.subarray(2), Buffer.from(`trailer ${SECRET}`)]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

function pngChunkTypes(png: Buffer): string[] {
  const types: string[] = [];
  for (let offset = 8; offset + 8 <= png.length; offset += 12 + png.readUInt32BE(offset)) types.push(png.toString('latin1', offset + 4, offset + 8));
  return types;
}

function webpChunkTypes(webp: Buffer): string[] {
  const types: string[] = [];
  for (let offset = 12; offset + 8 <= webp.length; ) {
    const size = webp.readUInt32LE(offset + 4);
    types.push(webp.toString('latin1', offset, offset + 4));
    offset += 8 + size + (size % 2);
  }
  return types;
}

/** A green PNG with an eXIf chunk (GPS) and tEXt/iTXt chunks naming the place. */
async function gpsPng(): Promise<Buffer> {
  const [r, g, b] = TINY_COLOURS.green!;
  const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r, g, b } } }).withExif(EXIF).png().toBuffer();
  const iend = png.length - 12;
  const text = Buffer.concat([pngChunk('tEXt', Buffer.from(`Location\0${SECRET}`, 'latin1')), pngChunk('iTXt', Buffer.from(`XML:com.adobe.xmp\0\0\0\0\0${XMP}`, 'latin1'))]);
  return Buffer.concat([png.subarray(0, iend), text, png.subarray(iend)]);
}

/** Asserts that served image bytes carry no EXIF (so no GPS), XMP, IPTC or comment, and no trace of the secret. */
async function assertNoMetadata(bytes: Buffer): Promise<void> {
  const meta = await sharp(bytes).metadata();
  assert.equal(meta.exif, undefined, 'no EXIF block');
  assert.equal(meta.xmp, undefined, 'no XMP');
  assert.equal(meta.iptc, undefined, 'no IPTC');
  assert.equal(meta.comments, undefined, 'no comments');
  assert.equal(meta.orientation, undefined, 'orientation applied, not recorded');
  for (const needle of ['Exif\0\0', 'GPS', 'AcmeCam', 'Photoshop 3.0', 'http://ns.adobe.com', SECRET]) {
    assert.equal(bytes.includes(Buffer.from(needle, 'latin1')), false, `"${needle}" in the stored bytes`);
  }
}

describe('uploads are stored and served without metadata', () => {
  test('a JPEG with GPS in EXIF and XMP, IPTC and a comment: none of it is served; orientation and ICC are kept; the product indexes', async () => {
    const photo = await gpsJpeg();
    // The fixture really carries what the test says it does.
    const input = await sharp(photo).metadata();
    assert.ok(input.exif && hasGpsIfd(input.exif), 'fixture has a GPS IFD');
    assert.ok(input.xmp && input.iptc && input.icc, 'fixture has XMP, IPTC and ICC');
    assert.ok(photo.includes(Buffer.from([0xff, 0xfe])) && photo.includes(Buffer.from(`taken at ${SECRET}`)), 'fixture has a comment');
    assert.equal(input.orientation, 6);

    const res = await publish(photo, 'Red tee with a secret');
    assert.equal(res.statusCode, 201, res.body);
    const { product } = res.json();
    assert.equal(product.images[0].labels.colour, 'red', 'analysed as before');
    const url: string = product.images[0].url;
    assert.match(url, /^\/v1\/images\/[0-9a-f]{64}\.jpg$/);

    const served = await app.inject(url);
    assert.equal(served.statusCode, 200);
    assert.equal(served.headers['content-type'], 'image/jpeg');
    await assertNoMetadata(served.rawPayload);
    const out = await sharp(served.rawPayload).metadata();
    assert.deepEqual([out.width, out.height], [48, 64], 'EXIF orientation 6 applied to the pixels');
    assert.deepEqual(out.icc, input.icc, 'the colour profile is kept');
    // The file on disk is what is served, named by the hash of its own bytes ...
    const onDisk = await readFile(storedPath(url));
    assert.deepEqual(onDisk, served.rawPayload);
    assert.equal(url.split('/').pop(), `${sha256(onDisk)}.jpg`);
    // ... and that is the catalog's content hash, so reindex and seen-together, which re-read
    // the file and compare, still find the photo they indexed.
    const stored = await shop.catalog.getProduct(product.id);
    assert.equal(stored!.images[0]!.contentHash, sha256(onDisk));

    // Still found by words, and by its own photo as an exact match.
    const words = (await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'secret' } })).json();
    assert.ok(words.results.some((hit: { id: string }) => hit.id === product.id));
    const byPhoto = (await app.inject({ method: 'POST', url: '/v1/search', payload: { image: onDisk.toString('base64') } })).json();
    assert.equal(byPhoto.results[0].id, product.id);
  });

  test('the same upload twice is stored once, under one name', async () => {
    const photo = await gpsJpeg();
    const first = (await publish(photo, 'Twin one')).json().product;
    const second = (await publish(photo, 'Twin two')).json().product;
    assert.equal(first.images[0].url, second.images[0].url);
    const name = first.images[0].url.split('/').pop();
    assert.equal((await readdir(imagesDir())).filter((n) => n === name).length, 1);
    assert.deepEqual((await readdir(imagesDir())).filter((n) => !/^[0-9a-f]{64}\.(jpg|png|webp)$/.test(n)), [], 'no temp files left');
  });

  test('PNG (eXIf, tEXt, iTXt) stays a lossless PNG without them; WebP loses its EXIF chunk; GIF is stored as PNG', async () => {
    const png = await gpsPng();
    assert.ok(pngChunkTypes(png).includes('eXIf') && pngChunkTypes(png).includes('tEXt'));
    const pngRes = await publish(png, 'Green chinos', 'image/png');
    assert.equal(pngRes.statusCode, 201, pngRes.body);
    const servedPng = (await app.inject(pngRes.json().product.images[0].url)).rawPayload;
    await assertNoMetadata(servedPng);
    assert.deepEqual(pngChunkTypes(servedPng).filter((t) => /^(eXIf|tEXt|iTXt|zTXt)$/.test(t)), []);
    assert.deepEqual(await sharp(servedPng).raw().toBuffer(), await sharp(png).raw().toBuffer(), 'PNG pixels unchanged');

    const [r, g, b] = TINY_COLOURS.blue!;
    const webp = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r, g, b } } }).withExif(EXIF).withXmp(XMP).webp({ lossless: true }).toBuffer();
    assert.ok(webpChunkTypes(webp).includes('EXIF'));
    const webpRes = await publish(webp, 'Blue dress', 'image/webp');
    assert.equal(webpRes.statusCode, 201, webpRes.body);
    const webpUrl: string = webpRes.json().product.images[0].url;
    assert.match(webpUrl, /\.webp$/);
    const servedWebp = (await app.inject(webpUrl)).rawPayload;
    await assertNoMetadata(servedWebp);
    assert.deepEqual(webpChunkTypes(servedWebp).filter((t) => t === 'EXIF' || t === 'XMP '), []);
    assert.deepEqual(await sharp(servedWebp).raw().toBuffer(), await sharp(webp).raw().toBuffer(), 'lossless WebP stays lossless');

    const gif = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 235, g: 220, b: 40 } } }).gif().toBuffer();
    const gifRes = await publish(gif, 'Yellow hat', 'image/gif');
    assert.equal(gifRes.statusCode, 201, gifRes.body);
    const gifUrl: string = gifRes.json().product.images[0].url;
    assert.match(gifUrl, /\.png$/);
    const servedGif = await app.inject(gifUrl);
    assert.equal(servedGif.headers['content-type'], 'image/png');
    await assertNoMetadata(servedGif.rawPayload);
  });

  test('an upload that cannot be stored fails as store_error and publishes nothing', async () => {
    const { path: dataDir, cleanup } = await tempDir('groknet-uploads-broken-');
    try {
      const broken = await buildApp({ analyzer: shop.analyzer, catalog: shop.catalog, config: { dataDir, apiKey: TEST_KEY, rateLimitPerMinute: 0, web: false } });
      // The images folder is replaced by a file: nothing can be written there.
      await rm(path.join(dataDir, 'images'), { recursive: true });
      await writeFile(path.join(dataDir, 'images'), 'not a folder');
      const before = await shop.catalog.countProducts();
      assertError(await publish(await gpsJpeg(), 'Never stored', 'image/jpeg', broken), 500, 'store_error');
      assert.equal(await shop.catalog.countProducts(), before, 'no product without its photo');
      await broken.close();
    } finally {
      await cleanup();
    }
  });

  test('bytes the encoder cannot read get an image error code, not internal', async () => {
    const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]);
    await assert.rejects(withoutMetadata(garbage, 'jpeg'), (e: unknown) => e instanceof GroknetError && ['truncated', 'not_an_image'].includes(e.code));
  });
});

describe('deleting a product removes its uploaded files', () => {
  const colour = (name: string, size: number) => solidImage(TINY_COLOURS[name]!, size, 'jpeg');

  test('a file goes with the last product that uses it; its URL then 404s', async () => {
    const shared = await colour('white', 50);
    const own = await colour('black', 50);
    const a = (await publish(shared, 'Shirt A')).json().product;
    const b = (await publish(shared, 'Shirt B')).json().product;
    const c = (await publish(own, 'Shoes C')).json().product;
    const sharedFile = storedPath(a.images[0].url);
    const ownFile = storedPath(c.images[0].url);
    assert.equal(a.images[0].url, b.images[0].url);

    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/products/${a.id}`, headers: auth })).statusCode, 200);
    assert.equal(existsSync(sharedFile), true, 'still used by B');
    assert.equal((await app.inject(b.images[0].url)).statusCode, 200);

    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/products/${b.id}`, headers: auth })).statusCode, 200);
    assert.equal(existsSync(sharedFile), false, 'removed with the last product');
    assertError(await app.inject(b.images[0].url), 404, 'not_found');

    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/products/${c.id}`, headers: auth })).statusCode, 200);
    assert.equal(existsSync(ownFile), false);
    assertError(await app.inject({ method: 'DELETE', url: `/v1/products/${c.id}`, headers: auth }), 404, 'not_found');
  });

  test('files outside the image store (a listing indexed from a folder) are never removed', async () => {
    const { path: folder, cleanup } = await tempDir('groknet-uploads-folder-');
    try {
      const bytes = await colour('yellow', 52);
      const source = path.join(folder, 'hat.jpg');
      await writeFile(source, bytes);
      const [analysis] = await shop.analyzer.analyzeBuffers([bytes]);
      await shop.catalog.insertProducts([{ id: 'folder-hat', title: 'Hat from a folder', images: [{ path: source, contentHash: sha256(bytes), analysis: analysis as never }] }]);
      assert.equal((await app.inject({ method: 'DELETE', url: '/v1/products/folder-hat', headers: auth })).statusCode, 200);
      assert.deepEqual(await readFile(source), bytes);
    } finally {
      await cleanup();
    }
  });

  test('when the catalog delete fails, the product and its file both stay', async () => {
    const res = await publish(await colour('blue', 54), 'Dress that stays');
    const product = res.json().product;
    const file = storedPath(product.images[0].url);
    const failing: CatalogStore = {
      ...shop.catalog,
      deleteProduct: async () => {
        throw new GroknetError('store_error', 'disk full');
      },
    };
    const broken = await buildApp({ analyzer: shop.analyzer, catalog: failing, config: { dataDir: shop.dataDir, apiKey: TEST_KEY, rateLimitPerMinute: 0, web: false } });
    assertError(await broken.inject({ method: 'DELETE', url: `/v1/products/${product.id}`, headers: auth }), 500, 'store_error');
    await broken.close();
    assert.equal(existsSync(file), true, 'the file outlives a failed delete');
    assert.equal((await app.inject(`/v1/products/${product.id}`)).statusCode, 200);
    assert.equal((await app.inject(product.images[0].url)).statusCode, 200);
  });

  test('a file that cannot be removed is left as an orphan; the delete still succeeds', async () => {
    const res = await publish(await colour('green', 56), 'Chinos');
    const product = res.json().product;
    const file = storedPath(product.images[0].url);
    // A folder in the file's place makes the removal fail (rm without recursive).
    await rm(file);
    await mkdir(path.join(file, 'stuck'), { recursive: true });
    const deleted = await app.inject({ method: 'DELETE', url: `/v1/products/${product.id}`, headers: auth });
    assert.deepEqual(deleted.json(), { id: product.id, deleted: true });
    assert.equal(existsSync(path.join(file, 'stuck')), true);
    await rm(file, { recursive: true });
  });
});

describe('ImageStore holds', () => {
  test('a saved file is not removed until its upload is released; a referenced one never', async () => {
    const { path: dataDir, cleanup } = await tempDir('groknet-image-store-');
    try {
      const store = new ImageStore(dataDir);
      const bytes = await solidImage(TINY_COLOURS.red!, 30);
      const saved = await store.save(bytes);
      const again = await store.save(bytes);
      assert.equal(again.name, saved.name);
      const unreferenced = async () => false;

      // Saved, not yet committed: a concurrent delete of another product must not take it.
      assert.deepEqual(await store.removeUnreferenced([saved.path], unreferenced), { removed: [], kept: [saved.name], failed: [] });
      store.release(saved);
      assert.deepEqual((await store.removeUnreferenced([saved.path], unreferenced)).kept, [saved.name], 'still held by the second upload');
      store.release(again);
      // Referenced by a catalog row (by content hash): kept.
      let asked = '';
      const referenced = async (hash: string) => ((asked = hash), true);
      assert.deepEqual((await store.removeUnreferenced([saved.path], referenced)).kept, [saved.name]);
      assert.equal(asked, saved.contentHash);
      // Paths that are not the store's are ignored.
      const outside = path.join(dataDir, 'elsewhere', saved.name);
      assert.deepEqual(await store.removeUnreferenced([outside, '/etc/passwd'], unreferenced), { removed: [], kept: [], failed: [] });
      assert.deepEqual(await store.removeUnreferenced([saved.path, saved.path], unreferenced), { removed: [saved.name], kept: [], failed: [] });
      assert.equal(existsSync(saved.path), false);

      // A removal and a new upload of the same photo serialise: the upload's file exists afterwards.
      const [, resaved] = await Promise.all([store.removeUnreferenced([saved.path], unreferenced), store.save(bytes)]);
      assert.equal(existsSync(resaved.path), true);
      assert.deepEqual((await store.removeUnreferenced([resaved.path], unreferenced)).kept, [resaved.name]);
    } finally {
      await cleanup();
    }
  });
});
