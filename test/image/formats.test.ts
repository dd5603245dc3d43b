import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatName, hasSupportedExtension, sniffFormat } from '../../src/image/formats.ts';
import { fromSharpError, shortReason } from '../../src/image/sharp-errors.ts';

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('format sniffing', () => {
  it('recognises every supported family from its magic bytes', () => {
    const cases: Array<[Buffer, string]> = [
      [bytes([0xff, 0xd8, 0xff, 0xe0]), 'jpeg'],
      [bytes([0x89], 'PNG\r\n\x1a\n'), 'png'],
      [bytes('RIFF', [0, 0, 0, 0], 'WEBPVP8 '), 'webp'],
      [bytes('GIF89a'), 'gif'],
      [bytes('GIF87a'), 'gif'],
      [bytes('II*\0'), 'tiff'],
      [bytes('MM\0*'), 'tiff'],
      [bytes([0, 0, 0, 0x1c], 'ftypavif'), 'heif'],
      [bytes([0, 0, 0, 0x18], 'ftypheic'), 'heif'],
    ];
    for (const [input, family] of cases) assert.deepEqual(sniffFormat(input), { kind: 'image', family });
  });

  it('names formats that are refused', () => {
    const refused = [
      bytes('<svg xmlns="http://www.w3.org/2000/svg"/>'),
      bytes([0xef, 0xbb, 0xbf], '\n  <?xml version="1.0"?><svg/>'),
      bytes('<!DOCTYPE html><html>'),
      bytes([0xff, 0xfe, 0x3c, 0x00]),
      bytes([0x1f, 0x8b, 8, 0]),
      bytes('%PDF-1.7'),
      bytes([0, 0, 0, 0x20], 'ftypisom'),
    ];
    for (const input of refused) assert.equal(sniffFormat(input).kind, 'unsupported', input.toString('latin1'));
  });

  it('knows nothing of text and short input', () => {
    for (const input of [bytes('hello world'), bytes([0xff]), bytes([0x89, 0x50]), Buffer.alloc(0), bytes('RIFF....WAVE')]) {
      assert.deepEqual(sniffFormat(input), { kind: 'unknown' });
    }
  });

  it('lists extensions for folder walking', () => {
    for (const name of ['a.jpg', 'B.JPEG', 'c.png', 'd.webp', 'e.gif', 'f.tif', 'g.TIFF', 'h.avif', 'i.heic']) {
      assert.ok(hasSupportedExtension(name), name);
    }
    for (const name of ['a.svg', 'b.txt', 'jpg', 'c.', 'd.jpg.svg', 'e.pdf']) assert.ok(!hasSupportedExtension(name), name);
  });

  it('splits HEIF by codec', () => {
    assert.equal(formatName('heif', 'av1'), 'avif');
    assert.equal(formatName('heif', 'hevc'), 'heic');
    assert.equal(formatName('heif', undefined), 'heif');
    assert.equal(formatName('png', undefined), 'png');
  });
});

describe('sharp error mapping', () => {
  it('maps libvips messages to stable codes', () => {
    const cases: Array<[string, 'jpeg' | 'png' | 'heif' | undefined, string]> = [
      ['Input image exceeds pixel limit', 'png', 'too_large'],
      ['timeout: 45% complete', 'jpeg', 'too_large'],
      ['Input Buffer is empty', undefined, 'empty_file'],
      ['Input buffer contains unsupported image format', undefined, 'not_an_image'],
      ['Input buffer contains unsupported image format', 'png', 'truncated'],
      ['VipsJpeg: premature end of JPEG image', 'jpeg', 'truncated'],
      ['vipspng: libpng read error', 'png', 'truncated'],
      ['Input buffer has corrupt header:', 'png', 'truncated'],
      ['heif: Unsupported feature: Unsupported codec (4.3000)', 'heif', 'unsupported_format'],
      ['heif: Unsupported feature: No matching decoder installed (4.3005)', 'heif', 'unsupported_format'],
      ['something nobody has seen before', 'jpeg', 'not_an_image'],
    ];
    for (const [message, family, code] of cases) assert.equal(fromSharpError(new Error(message), family).code, code, message);
  });

  it('keeps reasons short and free of paths and retry noise', () => {
    assert.equal(shortReason('source: bad seek to 1024\nsource: bad seek to 512\nheif: Invalid input: Unexpected end of file (2.100)'),
      'heif: Invalid input: Unexpected end of file (2.100)');
    assert.equal(shortReason('Input file has corrupt header: cannot open /srv/uploads/secret/a.png for reading'),
      'cannot open <path> for reading');
    assert.ok(shortReason('x'.repeat(1000)).length <= 120);
    const error = fromSharpError(new Error('weird failure at /home/user/file.jpg\n    at stack (x.js:1:1)'), 'jpeg');
    assert.doesNotMatch(error.message, /home|stack/);
  });
});
