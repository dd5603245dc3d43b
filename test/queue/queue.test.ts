// The ingest queue against a real redis-server: two worker processes share the work, a third
// is killed with SIGKILL in the middle of a job, and the catalog ends up with exactly the
// expected products, each once.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { openCatalog } from '../../src/catalog/open.ts';
import { enqueueIngest } from '../../src/queue/enqueue.ts';
import { redisOptions } from '../../src/queue/connection.ts';
import { startWorker } from '../../src/queue/worker.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { writeImage } from '../helpers/images.ts';
import { redisAvailable, startRedis, freePort, type RedisHandle } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/queue-worker-child.ts', import.meta.url));
const skip = redisAvailable() ? false : 'redis-server is not installed at /usr/bin/redis-server';
const PRODUCTS = 10;
const QUEUE = 'groknet-test';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let redis: RedisHandle;
const children: ChildProcess[] = [];

interface WorkerChild {
  process: ChildProcess;
  lines: string[];
  waitFor(prefix: string): Promise<string>;
}

function spawnWorker(data: string, delayMs: number, lockMs: number): WorkerChild {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, redis.url, QUEUE, data, String(delayMs), String(lockMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  const waiters: Array<{ prefix: string; resolve: (line: string) => void }> = [];
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    buffer += text;
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.filter((w) => line.startsWith(w.prefix))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return {
    process: child,
    lines,
    waitFor: (prefix) =>
      new Promise((resolve, reject) => {
        const found = lines.find((l) => l.startsWith(prefix));
        if (found) return resolve(found);
        waiters.push({ prefix, resolve });
        child.once('exit', (code) => reject(new Error(`worker exited (${code}) before "${prefix}": ${stderr.slice(-1500)}`)));
      }),
  };
}

async function waitForCounts(queue: Queue, done: (c: Record<string, number>) => boolean, timeoutMs = 30_000) {
  const started = Date.now();
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    if (done(counts)) return counts;
    if (Date.now() - started > timeoutMs) throw new Error(`queue did not settle: ${JSON.stringify(counts)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  if (skip) return;
  tmp = await tempDir();
  redis = await startRedis();
  const source = join(tmp.path, 'source');
  const colours = ['red', 'green', 'blue', 'yellow', 'purple'];
  for (let i = 0; i < PRODUCTS; i++) {
    await writeImage(join(source, `item-${i}.png`), { background: colours[i % 5]!, shape: 'circle', foreground: 'white', offset: i });
  }
  await writeFile(join(source, 'zz-broken.png'), 'this is not a png');
  await writeFile(join(source, 'zz-empty.png'), '');
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (redis) await redis.stop();
  if (tmp) await tmp.cleanup();
});

describe('ingest queue', { skip }, () => {
  test('2 workers + 1 killed mid-job give exactly the expected products', { timeout: 60_000 }, async () => {
    const data = join(tmp.path, 'data');
    const source = join(tmp.path, 'source');
    const first = await enqueueIngest(source, { redisUrl: redis.url, queueName: QUEUE });
    assert.equal(first.total, PRODUCTS + 2);
    assert.equal(first.enqueued, PRODUCTS + 1, 'zz-broken.png is enqueued (only a worker can tell it is no image)');
    assert.deepEqual(first.failed.map((f) => f.code), ['empty_file']);
    const again = await enqueueIngest(source, { redisUrl: redis.url, queueName: QUEUE });
    assert.equal(again.enqueued, 0);
    assert.equal(again.duplicates, PRODUCTS + 1, 'same content, same job ids: nothing added twice');

    // The victim is slow, so it is surely mid-job when it is killed.
    const victim = spawnWorker(data, 4000, 1000);
    const activeLine = await victim.waitFor('active ');
    const stolenJob = activeLine.slice('active '.length);
    victim.process.kill('SIGKILL');

    // Held until both survivors are up: one that starts a few seconds before the other (tsx
    // compiling, a loaded CI machine) would otherwise take every job alone. Each job takes
    // 100 ms, so the two, taking one job at a time, share the queue.
    const queue = new Queue(QUEUE, { connection: redisOptions(redis.url) });
    await queue.pause();
    const workers = [spawnWorker(data, 100, 5000), spawnWorker(data, 100, 5000)];
    await Promise.all(workers.map((w) => w.waitFor('ready')));
    await queue.resume();
    try {
      const counts = await waitForCounts(queue, (c) => c.completed! + c.failed! === PRODUCTS + 1);
      assert.equal(counts.completed, PRODUCTS);
      assert.equal(counts.failed, 1);

      const stolen = await queue.getJob(stolenJob);
      assert.equal(await stolen!.getState(), 'completed', 'the killed worker\'s job was finished by another');
      assert.equal(stolen!.stalledCounter, 1, 'it got there through BullMQ\'s stalled-job recovery');
      assert.equal(stolen!.returnvalue.status, 'indexed');
      const failed = await queue.getFailed();
      assert.match(failed[0]!.failedReason, /not_an_image/);
      assert.equal(failed[0]!.attemptsMade, 1, 'bad images are not retried');

      // Both surviving workers took part.
      for (const worker of workers) assert.ok(worker.lines.some((l) => l.startsWith('completed ')), 'each worker completed jobs');
    } finally {
      await queue.close();
      for (const worker of workers) worker.process.kill('SIGTERM');
    }

    const catalog = await openCatalog(data);
    const ids = (await catalog.listProducts({ limit: 100 })).map((p) => p.id);
    assert.deepEqual(ids, Array.from({ length: PRODUCTS }, (_, i) => `item-${i}`));
    const table = await catalog.table();
    assert.equal(await table!.countRows(), PRODUCTS, 'no duplicate rows');
    await catalog.close();

    // Everything done: enqueueing again adds nothing.
    const third = await enqueueIngest(source, { redisUrl: redis.url, queueName: QUEUE });
    assert.equal(third.enqueued, 0);
  });

  test('an in-process worker retries nothing twice and reports unchanged listings', { timeout: 30_000 }, async () => {
    const analyzer = createColourAnalyzer();
    const catalog = await openCatalog(join(tmp.path, 'data'), { embeddingDim: analyzer.embeddingDim });
    const queueName = 'groknet-test-2';
    const source = join(tmp.path, 'source');
    await enqueueIngest(source, { redisUrl: redis.url, queueName });
    const { worker, close } = await startWorker({ redisUrl: redis.url, queueName, catalog, analyzer, concurrency: 2 });
    const queue = new Queue(queueName, { connection: redisOptions(redis.url) });
    try {
      await waitForCounts(queue, (c) => c.completed! + c.failed! === PRODUCTS + 1);
      const completed = await queue.getCompleted();
      // The catalog already had these products (previous test): every job is "unchanged".
      assert.ok(completed.every((job) => job.returnvalue.status === 'unchanged'));
      assert.equal(await catalog.countProducts(), PRODUCTS);
      assert.ok(worker.isRunning());
    } finally {
      await queue.close();
      await close();
      await catalog.close();
    }
  });

  test('unreachable redis, bad URLs and a mismatched model are refused', { timeout: 20_000 }, async () => {
    const port = await freePort();
    const source = join(tmp.path, 'source');
    await assert.rejects(
      enqueueIngest(source, { redisUrl: `redis://127.0.0.1:${port}`, queueName: QUEUE, connectTimeoutMs: 500 }),
      { code: 'queue_error' },
    );
    await assert.rejects(enqueueIngest(source, { redisUrl: 'http://x', queueName: QUEUE }), { code: 'invalid_config' });
    await assert.rejects(enqueueIngest(source, { redisUrl: redis.url, queueName: 'a:b' }), { code: 'invalid_config' });
    const catalog = await openCatalog(join(tmp.path, 'data'));
    const other = createColourAnalyzer({ modelVersion: 'colour-histogram@9' });
    await assert.rejects(startWorker({ redisUrl: redis.url, catalog, analyzer: other }), { code: 'model_mismatch' });
    await catalog.close();
  });
});
