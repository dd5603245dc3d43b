// Files in, for every command that takes them (src/cli/inputs.ts): --files-from lists (lines,
// NUL-separated, standard input), directory walks through symlinks and loops, names that
// are not UTF-8, and each unreadable file as one clean error line while the others go on.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { expandInputs, listInputs, readInputFile, splitList } from '../../src/cli/inputs.ts';
import { fromFsError, GroknetError } from '../../src/errors.ts';
import { printablePath } from '../../src/util/file-names.ts';
import { runCli, runCliShell } from '../helpers/cli.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';

interface Line {
  file: string;
  heads?: { colour: { top: Array<{ label: string }> } };
  products?: unknown[];
  error?: { code: string; message: string };
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
let work: string;
let modelDir: string;
/** A red PNG whose name holds the byte 0xE9 alone: Latin-1 "é", not UTF-8. */
let latin1Name: Buffer;

const lines = (stdout: string): Line[] => stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
const colour = (line: Line | undefined) => line?.heads?.colour.top[0]?.label ?? line?.error?.code;
const bytes = (...parts: Array<string | Buffer>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
const collect = () => {
  const warnings: string[] = [];
  return { warnings, warn: (m: string) => warnings.push(m) };
};

before(async () => {
  tmp = await tempDir('groknet-inputs-');
  work = tmp.path;
  await mkdir(path.join(work, 'model'));
  modelDir = (await createTinyModel(path.join(work, 'model'))).dir;
  for (const [name, rgb] of [['red', TINY_COLOURS.red], ['blue', TINY_COLOURS.blue], ['green', TINY_COLOURS.green], ['yellow', TINY_COLOURS.yellow]] as const) {
    await writeFile(path.join(work, `${name}.png`), await solidImage(rgb!));
  }
  latin1Name = bytes(work, '/good', Buffer.from([0xe9]), '.png');
  await writeFile(latin1Name, await solidImage(TINY_COLOURS.red!));
});
after(() => tmp.cleanup());

// --- the module, in process ---

test('splitList: a path per line (\\r and empty lines dropped) or per NUL with -0; bytes that are not UTF-8 stay bytes', () => {
  assert.deepEqual(splitList(Buffer.from('a.png\r\n\n b c.png\nlast.png'), false), ['a.png', ' b c.png', 'last.png']);
  const nul = splitList(bytes('new\nline.png\0', Buffer.from([0x78, 0xff]), '.png\0\0'), true);
  assert.deepEqual(nul[0], 'new\nline.png', 'with -0 a newline is part of a name');
  assert.ok(Buffer.isBuffer(nul[1]) && nul[1].equals(Buffer.from([0x78, 0xff, 0x2e, 0x70, 0x6e, 0x67])));
  assert.equal(nul.length, 2);
  // A NUL list read without -0 is one line holding NULs: reading it is a clean error.
  assert.deepEqual(splitList(Buffer.from('a.png\0b.png\0'), false), ['a.png\0b.png\0']);
});

test('listInputs: operands first, then the list (standard input for -); a missing list and -0 without one are refused', async () => {
  const stdin = Readable.from([Buffer.from('one.png\n'), Buffer.from('two.png\n')]);
  const inputs = await listInputs(['op.png'], { 'files-from': '-' }, stdin);
  assert.deepEqual(inputs, [
    { path: 'op.png', argv: true },
    { path: 'one.png', argv: false },
    { path: 'two.png', argv: false },
  ]);
  await assert.rejects(listInputs([], { 'files-from': path.join(work, 'no-such-list.txt') }), (error: GroknetError) => {
    assert.equal(error.code, 'file_not_found');
    assert.match(error.message, /--files-from .*no-such-list\.txt \(no such file\)/);
    return true;
  });
  await assert.rejects(listInputs(['a.png'], { null: true }), { code: 'invalid_argument' });
});

test('a walk follows symlinks to files and folders, skips dangling ones, and walks a loop once with one warning', async () => {
  const root = path.join(work, 'walk');
  await mkdir(path.join(root, 'a'), { recursive: true });
  await mkdir(path.join(work, 'elsewhere'), { recursive: true });
  await writeFile(path.join(root, 'a', 'x.png'), 'x');
  await writeFile(path.join(work, 'elsewhere', 'y.png'), 'y');
  await symlink('..', path.join(root, 'a', 'loop'));
  await symlink(path.join(work, 'elsewhere'), path.join(root, 'b-dir-link'));
  await symlink(path.join(root, 'a', 'x.png'), path.join(root, 'c-file-link.png'));
  await symlink('nowhere.png', path.join(root, 'd-dangling.png'));
  const { warnings, warn } = collect();
  const files = await expandInputs([root], { warn });
  assert.deepEqual(
    files.map((f) => path.relative(work, f.name)),
    ['walk/a/x.png', 'walk/b-dir-link/y.png', 'walk/c-file-link.png'],
  );
  assert.deepEqual(warnings, [`skipping ${path.join(root, 'a', 'loop')}: directory loop`]);
});

test('a file deleted, or replaced by a folder, between the listing and the read is one clean error; the next file is read', async () => {
  const root = path.join(work, 'race');
  await mkdir(root);
  for (const name of ['a.png', 'b.jpg', 'c.png']) await writeFile(path.join(root, name), await solidImage(TINY_COLOURS.red!));
  const files = await expandInputs([root], collect());
  assert.equal(files.length, 3);
  await rm(path.join(root, 'a.png'));
  await rm(path.join(root, 'b.jpg'));
  await mkdir(path.join(root, 'b.jpg'));
  const [gone, folder, kept] = await Promise.all(files.map(readInputFile));
  assert.ok(gone instanceof GroknetError);
  assert.deepEqual([gone.code, gone.message], ['file_not_found', 'The file does not exist or cannot be read: a.png']);
  assert.ok(folder instanceof GroknetError);
  assert.equal(folder.code, 'not_an_image');
  assert.match(folder.message, /b\.jpg is a directory/);
  assert.ok(Buffer.isBuffer(kept));
});

test('names: bytes that are not UTF-8 shown as \\xNN; file-system errors in words (EACCES too, which root cannot provoke)', () => {
  assert.equal(printablePath(Buffer.from([0x61, 0xe9, 0x62, 0xc3, 0xa9, 0xff, 0xed, 0xa0, 0x80])), 'a\\xe9bé\\xff\\xed\\xa0\\x80');
  assert.equal(printablePath('plain/été.png'), 'plain/été.png');
  const denied = fromFsError(Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES' }), 'x.png');
  assert.deepEqual([denied.code, denied.message], ['file_not_found', 'The file does not exist or cannot be read: x.png (permission denied)']);
  assert.equal(fromFsError(Object.assign(new Error('x'), { code: 'EISDIR' }), 'x.jpg').code, 'not_an_image');
});

// --- the commands, as a user runs them: child processes, two at a time (each waits mostly on its own start) ---

describe('commands', { concurrency: 2 }, () => {
  test('analyze --files-from FILE: operands, then every entry in order; a 5,000-byte path, a 300-byte name and a FIFO are clean error lines', async () => {
    const longPath = path.join(work, 'd/'.repeat(Math.ceil((5000 - work.length) / 2)), 'x.png');
    assert.ok(Buffer.byteLength(longPath) > 5000);
    const longName = path.join(work, `${'n'.repeat(296)}.png`);
    const fifo = path.join(work, 'x.png');
    execFileSync('mkfifo', [fifo]);
    const missing = Array.from({ length: 1000 }, (_, i) => path.join(work, `missing-${i}.png`));
    const list = path.join(work, 'list.txt');
    // CRLF line ends and blank lines, as a list edited on Windows may have.
    await writeFile(list, ['', longPath, longName, fifo, path.join(work, 'blue.png'), ...missing, path.join(work, 'green.png'), ''].join('\r\n'));
    const { code, stdout, stderr } = await runCli(['analyze', '--json', '--model', modelDir, path.join(work, 'red.png'), '--files-from', list]);
    assert.equal(code, 1, stderr);
    assert.equal(stderr, '');
    const out = lines(stdout);
    assert.equal(out.length, 1006);
    assert.deepEqual(out.slice(0, 5).map(colour), ['red', 'file_not_found', 'file_not_found', 'not_an_image', 'blue']);
    assert.equal(out[1]!.file, longPath);
    assert.match(out[1]!.error!.message, /x\.png \(the name or the path is too long\)$/);
    assert.match(out[2]!.error!.message, /nnn\.png \(the name or the path is too long\)$/);
    assert.match(out[3]!.error!.message, /x\.png is not a regular file/);
    assert.deepEqual(out.slice(5, 1005).map((l) => l.file), missing);
    assert.equal(colour(out[1005]), 'green');
  });

  test('analyze --files-from - -0: a name that is not UTF-8 is read and shown with \\xNN; given as an operand it is a clean error pointing to --files-from', async () => {
    // printf turns \351 into the byte 0xE9: an argv Node can only decode lossily.
    const operand = `${work}/good\\351.png`;
    const { code, stdout, stderr } = await runCliShell('exec "$0" "$1" analyze --json --model "$2" -0 --files-from - "$(printf "$3")"', [modelDir, operand], {
      input: bytes(latin1Name, '\0', path.join(work, 'yellow.png'), '\0'),
    });
    assert.equal(code, 1, stderr);
    const [lost, latin1, yellow, ...rest] = lines(stdout);
    assert.equal(rest.length, 0);
    assert.equal(lost!.file, `${work}/good\uFFFD.png`);
    assert.equal(lost!.error?.code, 'file_not_found');
    assert.match(lost!.error!.message, /not valid UTF-8.*--files-from LIST -0/);
    assert.equal(latin1!.file, `${work}/good\\xe9.png`);
    assert.equal(colour(latin1), 'red');
    assert.equal(colour(yellow), 'yellow');
  });

  test('analyze DIR: symlinked files and folders followed, a loop skipped with one warning, every image once, a Latin-1 name escaped', async () => {
    const tree = path.join(work, 'tree');
    await mkdir(path.join(tree, 'a'), { recursive: true });
    await mkdir(path.join(work, 'outside'), { recursive: true });
    await writeFile(path.join(tree, 'a', 'blue.png'), await solidImage(TINY_COLOURS.blue!));
    await writeFile(path.join(work, 'outside', 'green.png'), await solidImage(TINY_COLOURS.green!));
    await writeFile(path.join(tree, 'red.png'), await solidImage(TINY_COLOURS.red!));
    await writeFile(bytes(tree, '/caf', Buffer.from([0xe9]), '.png'), await solidImage(TINY_COLOURS.yellow!));
    await symlink('..', path.join(tree, 'a', 'loop'));
    await symlink(path.join(work, 'outside'), path.join(tree, 'linked-dir'));
    await symlink('red.png', path.join(tree, 'linked-red.png'));
    await symlink('nowhere.png', path.join(tree, 'dangling.png'));
    const { code, stdout, stderr } = await runCli(['analyze', '--json', '--model', modelDir, tree]);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, `groknet analyze: skipping ${path.join(tree, 'a', 'loop')}: directory loop\n`);
    const out = lines(stdout);
    assert.deepEqual(
      out.map((l) => [path.relative(tree, l.file), colour(l)]),
      [
        ['a/blue.png', 'blue'],
        ['caf\\xe9.png', 'yellow'],
        ['linked-dir/green.png', 'green'],
        ['linked-red.png', 'red'],
        ['red.png', 'red'],
      ],
    );
  });

  test('detect takes --files-from - as well', async () => {
    const input = `${path.join(work, 'red.png')}\n${path.join(work, 'gone.png')}\n`;
    const detect = await runCli(['detect', '--json', '--model', modelDir, '--files-from', '-'], { input });
    assert.equal(detect.code, 1, detect.stderr);
    const found = lines(detect.stdout);
    assert.deepEqual(found.map((l) => [path.basename(l.file), l.products ? 'ok' : l.error?.code]), [['red.png', 'ok'], ['gone.png', 'file_not_found']]);
  });

  test('analyze, detect, pseudolabel and index without inputs show --files-from in their usage; a missing list and -0 alone are refused', async () => {
    // In process (one import instead of a process per case): main() is what bin/groknet.js runs.
    const { main } = await import('../../src/cli/main.ts');
    const run = async (args: string[]) => {
      let stderr = '';
      const write = process.stderr.write;
      process.stderr.write = ((chunk: string | Uint8Array) => {
        stderr += String(chunk);
        return true;
      }) as typeof process.stderr.write;
      try {
        return { code: await main(args), stderr };
      } finally {
        process.stderr.write = write;
      }
    };
    for (const args of [['analyze'], ['detect'], ['pseudolabel', '--out', 'x.jsonl'], ['index']]) {
      const usage = await run(args);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, new RegExp(`^usage: groknet ${args[0]} .*\\[--files-from LIST\\|- \\[-0\\]\\]`));
      assert.match(usage.stderr, /\n {2}--files-from LIST\|-: more inputs, one path per line/);
      // index stores paths as text: no advice to pass names that are not UTF-8.
      if (args[0] !== 'index') assert.match(usage.stderr, new RegExp(`find \\.\\.\\. -print0 \\| groknet ${args[0]} --files-from - -0`));
    }
    const listPath = path.join(work, 'missing-list.txt');
    const missing = await run(['analyze', '--model', modelDir, '--files-from', listPath]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `groknet analyze: The file does not exist or cannot be read: --files-from ${listPath} (no such file) [file_not_found]\n`);
    const nullAlone = await run(['analyze', '-0', path.join(work, 'red.png')]);
    assert.equal(nullAlone.code, 2);
    assert.match(nullAlone.stderr, /-0 \(--null\) only applies with --files-from \[invalid_argument\]/);
  });

  test('index takes several image files, a folder with files and a --files-from list; an id given by two inputs is a failure, not an overwrite', async () => {
    const shop = path.join(work, 'shop');
    await mkdir(path.join(work, 'other'), { recursive: true });
    await mkdir(shop, { recursive: true });
    await writeFile(path.join(shop, 'mug.png'), await solidImage(TINY_COLOURS.red!));
    await writeFile(path.join(shop, 'cap.png'), await solidImage(TINY_COLOURS.blue!));
    await writeFile(path.join(work, 'other', 'mug.png'), await solidImage(TINY_COLOURS.green!));
    const data = path.join(work, 'data');
    const files = await runCli(['index', path.join(work, 'yellow.png'), path.join(work, 'green.png'), '--data', data, '--model', modelDir, '--no-detect']);
    assert.equal(files.code, 0, files.stderr);
    const first = JSON.parse(files.stdout) as { total: number; indexed: number; failed: unknown[] };
    assert.deepEqual([first.total, first.indexed, first.failed], [2, 2, []]);

    const list = path.join(work, 'index-list.txt');
    await writeFile(list, `${path.join(work, 'yellow.png')}\n`);
    const mixed = await runCli(['index', shop, path.join(work, 'other', 'mug.png'), '--files-from', list, '--data', data, '--model', modelDir, '--no-detect']);
    assert.equal(mixed.code, 1, mixed.stderr);
    const summary = JSON.parse(mixed.stdout) as { total: number; indexed: number; unchanged: number; failed: Array<{ item: string; code: string; message: string }>; seconds: number };
    assert.deepEqual(Object.keys(summary), ['total', 'indexed', 'unchanged', 'failed', 'seconds']);
    assert.deepEqual([summary.total, summary.indexed, summary.unchanged], [4, 2, 1]);
    assert.deepEqual(summary.failed.map((f) => [f.item, f.code]), [[path.join(work, 'other', 'mug.png'), 'invalid_argument']]);
    assert.match(summary.failed[0]!.message, /duplicate id "mug" \(first in .*shop\/mug\.png\)/);
  });
});
