import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCsv } from '../../src/catalog/csv.ts';
import { canonicalJson, productHash } from '../../src/catalog/hash.ts';
import { resolveInside } from '../../src/catalog/sources.ts';
import { sqlIdentifier, sqlIn, sqlNumber, sqlString } from '../../src/catalog/sql.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('csv', () => {
  test('quotes, doubled quotes, embedded commas and newlines, CRLF, BOM, blank lines', () => {
    const text = '\ufeffid,title\r\n1,"a, ""b""\nc"\r\n\r\n2,plain\n3,\n';
    assert.deepEqual(parseCsv(text), [
      { line: 1, fields: ['id', 'title'] },
      { line: 2, fields: ['1', 'a, "b"\nc'] },
      { line: 5, fields: ['2', 'plain'] },
      { line: 6, fields: ['3', ''] },
    ]);
    assert.deepEqual(parseCsv('a,b'), [{ line: 1, fields: ['a', 'b'] }]);
    assert.deepEqual(parseCsv(''), []);
  });
});

describe('sql literals', () => {
  test('strings are quoted with quotes doubled; control characters refused', () => {
    assert.equal(sqlString(`it's`), `'it''s'`);
    assert.equal(sqlString(`'; DROP TABLE x; --`), `'''; DROP TABLE x; --'`);
    assert.equal(sqlString('back\\slash'), `'back\\slash'`);
    assert.throws(() => sqlString('a\u0000'), { code: 'query_invalid' });
    assert.equal(sqlIn(['a', `b'c`]), `('a', 'b''c')`);
    assert.throws(() => sqlIn([]), { code: 'query_invalid' });
  });

  test('numbers must be finite; identifiers must be known', () => {
    assert.equal(sqlNumber(1.5), '1.5');
    assert.throws(() => sqlNumber(NaN), { code: 'query_invalid' });
    assert.throws(() => sqlNumber(Infinity), { code: 'query_invalid' });
    const known = new Set(['price']);
    assert.equal(sqlIdentifier('price', known), 'price');
    assert.throws(() => sqlIdentifier('price OR 1=1', known), { code: 'query_invalid' });
  });
});

describe('hashes', () => {
  test('canonical JSON ignores key order; the product hash sees fields and image bytes', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, 2], c: null } }), '{"a":{"c":null,"d":[1,2]},"b":1}');
    const base = { id: 'x', title: 't', attributes: { a: 1, b: 2 }, images: [{ path: '/p', contentHash: 'h' }] };
    assert.equal(productHash(base), productHash({ ...base, attributes: { b: 2, a: 1 } }));
    assert.notEqual(productHash(base), productHash({ ...base, title: 'u' }));
    assert.notEqual(productHash(base), productHash({ ...base, images: [{ path: '/p', contentHash: 'g' }] }));
  });
});

describe('resolveInside', () => {
  test('relative paths inside pass; .., absolute, URLs and escaping symlinks are refused', async () => {
    const tmp = await tempDir();
    try {
      const root = join(tmp.path, 'root');
      await mkdir(join(root, 'img'), { recursive: true });
      await writeFile(join(root, 'img', 'a.png'), 'x');
      await writeFile(join(tmp.path, 'secret.png'), 'x');
      await symlink(join(tmp.path, 'secret.png'), join(root, 'img', 'link.png'));
      await symlink(join(root, 'img', 'a.png'), join(root, 'inner-link.png'));
      assert.equal(await resolveInside(root, 'img/a.png'), join(root, 'img', 'a.png'));
      assert.equal(await resolveInside(root, './img/../img/a.png'), join(root, 'img', 'a.png'));
      assert.equal(await resolveInside(root, 'inner-link.png'), join(root, 'img', 'a.png'));
      assert.equal(await resolveInside(root, 'img/missing.png'), join(root, 'img', 'missing.png'));
      for (const bad of ['../secret.png', 'img/../../secret.png', join(tmp.path, 'secret.png'), '/etc/passwd', 'img/link.png']) {
        await assert.rejects(resolveInside(root, bad), { code: 'path_outside_root' }, bad);
      }
      await assert.rejects(resolveInside(root, 'http://example.com/a.png'), { code: 'invalid_argument' });
      await assert.rejects(resolveInside(root, 'file:///etc/passwd'), { code: 'invalid_argument' });
    } finally {
      await tmp.cleanup();
    }
  });
});
