// The model cache's writes (src/model/cache.ts): atomic and durable (fsync before the
// rename, then the folder), and temp files of killed writers swept away, never those of a
// writer still alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cached, removeStaleTemps, STALE_TEMP_AGE_MS, writeAtomic } from '../../src/model/cache.ts';
import { tempDir } from '../helpers/tmp.ts';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function freshDir(): Promise<string> {
  const dir = await tempDir('groknet-cache-test-');
  cleanups.push(dir.cleanup);
  return dir.path;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const HOUR_AGO = (Date.now() - STALE_TEMP_AGE_MS - 60_000) / 1000;

async function temp(dir: string, name: string, old: boolean): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, 'partial');
  if (old) await utimes(file, HOUR_AGO, HOUR_AGO);
  return name;
}

describe('stale temp files', () => {
  let dead: number;
  let live: ReturnType<typeof spawn>;
  before(async () => {
    dead = await deadPid();
    live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  });
  after(() => {
    live.kill();
  });

  test('only old temp files of dead writers are removed', async () => {
    const dir = await freshDir();
    const stale = await temp(dir, `backbone-abc.onnx.tmp-${dead}-0123abcd`, true);
    // Our own pid on a file we are not writing: a killed earlier run that had the same pid (containers).
    const samePid = await temp(dir, `full-abc.onnx.tmp-${process.pid}-89abcdee`, true);
    const keep = [
      await temp(dir, `backbone-abc.onnx.tmp-${dead}-0123abce`, false), // dead writer, but fresh
      await temp(dir, `full-abc.onnx.tmp-${live.pid}-89abcdef`, true), // old, but its writer is alive
      await temp(dir, 'backbone-abc.onnx', true), // a cached file
      await temp(dir, `notes.tmp-${dead}-xyz`, true), // not a name writeAtomic makes
      await temp(dir, `model.tmp-${dead}-0123ABCD`, true),
    ];
    await mkdir(path.join(dir, `sub.tmp-${dead}-00000000`)); // a folder is never removed
    assert.deepEqual((await removeStaleTemps(dir)).sort(), [stale, samePid].sort());
    assert.deepEqual((await readdir(dir)).sort(), [...keep, `sub.tmp-${dead}-00000000`].sort());
    // A missing folder is not an error.
    assert.deepEqual(await removeStaleTemps(path.join(dir, 'missing')), []);
  });

  test('opening the cache sweeps it; writing into a folder sweeps that folder', async () => {
    const cache = await freshDir();
    const previous = process.env.GROKNET_CACHE;
    process.env.GROKNET_CACHE = cache;
    try {
      await writeFile(path.join(cache, 'graph-1.onnx'), 'cached bytes');
      const stale = await temp(cache, `graph-2.onnx.tmp-${dead}-deadbeef`, true);
      const fresh = await temp(cache, `graph-3.onnx.tmp-${dead}-deadbeef`, false);
      // A cache hit: nothing is built or written, the leftovers still go.
      const hit = await cached('graph-1.onnx', () => assert.fail('must not build'));
      assert.equal(hit.built, false);
      assert.equal(existsSync(path.join(cache, stale)), false);
      assert.equal(existsSync(path.join(cache, fresh)), true);
    } finally {
      if (previous === undefined) delete process.env.GROKNET_CACHE;
      else process.env.GROKNET_CACHE = previous;
    }

    const out = await freshDir();
    await temp(out, `heads.onnx.tmp-${dead}-cafebabe`, true);
    await writeAtomic(path.join(out, 'model.json'), '{}');
    assert.deepEqual(await readdir(out), ['model.json']);
  });
});

describe('writeAtomic', () => {
  test('the data is synced before the rename and the folder after it', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'nested', 'graph.onnx');
    const probe = await open(await writeProbe(dir), 'r');
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const original = proto.sync;
    const seen: Array<{ finalExists: boolean; entries: string[] }> = [];
    proto.sync = async function (this: unknown) {
      seen.push({ finalExists: existsSync(file), entries: await readdir(path.dirname(file)) });
      return original.call(this);
    };
    try {
      await writeAtomic(file, new Uint8Array([1, 2, 3]));
    } finally {
      proto.sync = original;
    }
    assert.equal(seen.length, 2, 'one fsync of the file, one of the folder');
    assert.equal(seen[0]!.finalExists, false, 'the file is synced under its temp name, before the rename');
    assert.match(seen[0]!.entries[0]!, new RegExp(`^graph\\.onnx\\.tmp-${process.pid}-[0-9a-f]{8}$`));
    assert.equal(seen[1]!.finalExists, true, 'the folder is synced after the rename');
    assert.deepEqual(await readFile(file), Buffer.from([1, 2, 3]));
    assert.deepEqual(await readdir(path.dirname(file)), ['graph.onnx']);
  });

  test('a sweep never removes the temp file this process is writing, however old it looks', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'graph.onnx');
    const probe = await open(await writeProbe(dir), 'r');
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const original = proto.sync;
    let swept: string[] | undefined;
    proto.sync = async function (this: unknown) {
      // Mid-write: the temp file exists; a sweep that takes every temp file of any age runs now.
      if (!swept) swept = await removeStaleTemps(dir, { maxAgeMs: 0, now: Date.now() + 1000 });
      return original.call(this);
    };
    try {
      await writeAtomic(file, 'complete');
    } finally {
      proto.sync = original;
    }
    assert.deepEqual(swept, []);
    assert.equal(await readFile(file, 'utf8'), 'complete');
  });

  test('a failed write throws and leaves neither the file nor a temp file', async () => {
    const dir = await freshDir();
    // The target is a folder: the rename fails after the data was written and synced.
    const target = path.join(dir, 'taken');
    await mkdir(path.join(target, 'inside'), { recursive: true });
    await assert.rejects(writeAtomic(target, 'data'));
    assert.deepEqual((await readdir(dir)).sort(), ['taken']);
    assert.deepEqual(await readdir(target), ['inside']);
  });
});

async function writeProbe(dir: string): Promise<string> {
  const file = path.join(dir, 'probe');
  await writeFile(file, '');
  return file;
}
