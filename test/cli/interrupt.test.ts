// Ctrl-C and SIGTERM during long commands (issue #27): the first signal stops `groknet index`
// between batches and `groknet train` at its next safe point, with what was done kept, a line
// on how to resume and the status a shell gives a process the signal killed (130, 143); a
// second signal exits at once. test/train/interrupt.test.ts checks in process that a resumed
// training ends bit for bit like an uninterrupted one.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { openCatalog } from '../../src/catalog/open.ts';
import { startCli, startNode, type LiveCli } from '../helpers/cli.ts';
import { stopChild } from '../helpers/stop-child.ts';
import { tempDir } from '../helpers/tmp.ts';
import { createTinyModel } from '../helpers/tiny-model.ts';
import { cacheWithBackbones, shapesConfig, writeConfig, writeShapes } from '../helpers/train-data.ts';

const PRODUCTS = 30;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let modelDir: string;
let listings: string;
const running: LiveCli[] = [];

before(async () => {
  tmp = await tempDir('groknet-interrupt-');
  modelDir = (await createTinyModel(tmp.path)).dir;
  const lines: string[] = [];
  for (let i = 0; i < PRODUCTS; i++) {
    const background = { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 };
    await sharp({ create: { width: 16, height: 16, channels: 3, background } }).png().toFile(path.join(tmp.path, `p${i}.png`));
    lines.push(JSON.stringify({ id: `p${i}`, title: `Product ${i}`, image: `p${i}.png` }));
  }
  listings = path.join(tmp.path, 'listings.jsonl');
  await writeFile(listings, lines.join('\n'));
});
after(async () => {
  // A test that failed half-way must not leave its command running.
  for (const cli of running) await stopChild(cli.child, 'SIGKILL');
  await tmp.cleanup();
});

function start(args: readonly string[], env?: NodeJS.ProcessEnv): LiveCli {
  const cli = startCli(args, env);
  running.push(cli);
  return cli;
}

/** LanceDB commits in a catalog folder so far (one manifest per table version). */
function commits(data: string): number {
  let n = 0;
  try {
    for (const entry of readdirSync(data)) if (entry.endsWith('.lance')) n += readdirSync(path.join(data, entry, '_versions')).filter((f) => f.endsWith('.manifest')).length;
  } catch {
    // not created yet
  }
  return n;
}

/** Resolves once `ready()` holds, looking every 20 ms (a catalog commit is a new file; no event says so); rejects if the command exits first. */
async function until(ready: () => boolean, cli: LiveCli, what: string): Promise<void> {
  let exited = false;
  void cli.exited.then(() => (exited = true));
  while (!ready()) {
    if (exited) throw new Error(`the command exited before ${what}: ${cli.stderr().slice(-1500)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface IndexSummary {
  total: number;
  indexed: number;
  unchanged: number;
  failed: unknown[];
  interrupted?: string;
}

const indexArgs = (data: string) => ['index', listings, '--data', data, '--model', modelDir, '--batch', '1', '--no-detect'];

async function productsIn(data: string): Promise<number> {
  const catalog = await openCatalog(data);
  try {
    return await catalog.countProducts();
  } finally {
    await catalog.close();
  }
}

/** `groknet index` stopped by `signal` once it has committed a batch (table creation is the first commit). */
async function interruptIndex(data: string, signal: NodeJS.Signals): Promise<{ code: number | null; summary: IndexSummary; stderr: string }> {
  const cli = start(indexArgs(data));
  await until(() => commits(data) >= 2, cli, 'its first commit');
  cli.child.kill(signal);
  const { code, signal: killedBy } = await cli.exited;
  assert.equal(killedBy, null, `killed by ${killedBy}: ${cli.stderr()}`);
  return { code, summary: JSON.parse(cli.stdout()) as IndexSummary, stderr: cli.stderr() };
}

test('index: SIGINT mid-run stops between batches (exit 130), keeps what it wrote, and the same command resumes', { timeout: 60_000 }, async () => {
  const data = path.join(tmp.path, 'data-int');
  const stopped = await interruptIndex(data, 'SIGINT');
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.equal(stopped.summary.interrupted, 'SIGINT');
  assert.equal(stopped.summary.total, PRODUCTS);
  assert.ok(stopped.summary.indexed >= 1 && stopped.summary.indexed < PRODUCTS, `indexed ${stopped.summary.indexed} of ${PRODUCTS}: not stopped mid-run`);
  assert.match(stopped.stderr, /^groknet index: SIGINT, stopping: no new batch starts/m);
  assert.match(stopped.stderr, /^groknet index: interrupted by SIGINT; to resume, run the same command again: listings already indexed are skipped as unchanged$/m);
  assert.equal(await productsIn(data), stopped.summary.indexed, 'the catalog opens and holds what the summary says was written');

  const rerun = start(indexArgs(data));
  const { code } = await rerun.exited;
  assert.equal(code, 0, rerun.stderr());
  const summary = JSON.parse(rerun.stdout()) as IndexSummary;
  assert.deepEqual(
    { indexed: summary.indexed, unchanged: summary.unchanged, failed: summary.failed, interrupted: summary.interrupted },
    { indexed: PRODUCTS - stopped.summary.indexed, unchanged: stopped.summary.indexed, failed: [], interrupted: undefined },
  );
  assert.equal(await productsIn(data), PRODUCTS);
});

test('index: SIGTERM mid-run stops the same way, exit 143', { timeout: 60_000 }, async () => {
  const data = path.join(tmp.path, 'data-term');
  const stopped = await interruptIndex(data, 'SIGTERM');
  assert.equal(stopped.code, 143, stopped.stderr);
  assert.equal(stopped.summary.interrupted, 'SIGTERM');
  assert.ok(stopped.summary.indexed >= 1 && stopped.summary.indexed < PRODUCTS, `indexed ${stopped.summary.indexed} of ${PRODUCTS}`);
  assert.match(stopped.stderr, /interrupted by SIGTERM; to resume, run the same command again/);
  assert.equal(await productsIn(data), stopped.summary.indexed);
});

test('index: a run stopped by SIGINT has searched the photos of every listing it wrote for products seen together', { timeout: 90_000 }, async () => {
  const data = path.join(tmp.path, 'data-linked');
  // Detection on (the real CenterNet): each written batch is linked before the next starts.
  const cli = start(['index', listings, '--data', data, '--model', modelDir, '--batch', '1']);
  await until(() => commits(data) >= 2, cli, 'its first commit');
  cli.child.kill('SIGINT');
  const { code } = await cli.exited;
  assert.equal(code, 130, cli.stderr());
  const summary = JSON.parse(cli.stdout()) as IndexSummary & { seenTogether?: { products: number; failed: unknown[] } };
  assert.ok(summary.indexed >= 1 && summary.indexed < PRODUCTS, `indexed ${summary.indexed} of ${PRODUCTS}`);
  assert.deepEqual(summary.seenTogether && [summary.seenTogether.products, summary.seenTogether.failed], [summary.indexed, []], 'every listing written was linked');
  assert.doesNotMatch(cli.stderr(), /were not searched for products seen together/);

  const rerun = start(['index', listings, '--data', data, '--model', modelDir]);
  assert.equal((await rerun.exited).code, 0, rerun.stderr());
  const again = JSON.parse(rerun.stdout()) as IndexSummary & { seenTogether?: { products: number } };
  assert.deepEqual([again.indexed, again.seenTogether?.products], [PRODUCTS - summary.indexed, PRODUCTS - summary.indexed]);
});

test('train: SIGINT stops after a checkpoint (exit 130, no model written); --resume goes on from it; SIGTERM: 143', { timeout: 90_000 }, async () => {
  const cache = await cacheWithBackbones(path.join(tmp.path, 'cache'));
  const env = { ...process.env, GROKNET_CACHE: cache };
  // Far more epochs than the test waits for: the signal always lands while the heads train.
  const config = await writeConfig(path.join(tmp.path, 'train.json'), shapesConfig(await writeShapes(tmp.path), 1000));
  const out = path.join(tmp.path, 'model');

  const first = start(['train', config, '--out', out], env);
  await first.waitFor('stderr', /^epoch 1\/1000 /m);
  first.child.kill('SIGINT');
  assert.deepEqual(await first.exited, { code: 130, signal: null }, first.stderr());
  const stoppedAt = /^groknet train: interrupted by SIGINT at training step (\d+) of (\d+), checkpoint written; to go on from there, run the same command with --resume$/m.exec(first.stderr());
  assert.ok(stoppedAt, first.stderr());
  assert.deepEqual(await readdir(out).catch(() => []), [], 'no model (nor a part of one) is written');
  assert.equal((await readdir(path.join(cache, 'checkpoints'))).filter((n) => n.endsWith('.ckpt')).length, 1);

  // The resumed run starts from that step: its first epoch line is the epoch the stop fell in.
  const resumed = start(['train', config, '--out', out, '--resume'], env);
  await resumed.waitFor('stderr', /^epoch \d+\/1000 /m);
  const [step, steps] = [Number(stoppedAt[1]), Number(stoppedAt[2])];
  const firstEpoch = Number(/^epoch (\d+)\/1000 /m.exec(resumed.stderr())![1]);
  assert.equal(firstEpoch, Math.floor(step / (steps / 1000)) + 1, resumed.stderr());
  resumed.child.kill('SIGTERM');
  assert.deepEqual(await resumed.exited, { code: 143, signal: null }, resumed.stderr());
  assert.match(resumed.stderr(), /^groknet train: interrupted by SIGTERM at training step \d+ of \d+, checkpoint written; .*--resume$/m);
  const temps = (await readdir(tmp.path, { recursive: true })).filter((n) => /\.tmp-\d+-[0-9a-f]{8}$/.test(n));
  assert.deepEqual(temps, [], 'nothing half-written');
});

test('a second signal exits at once, whatever the command was doing', { timeout: 30_000 }, async () => {
  // The interrupt module alone, under work that never looks at its AbortSignal.
  const module = new URL('../../src/cli/interrupt.ts', import.meta.url).href;
  const script = `import { watchInterrupts } from ${JSON.stringify(module)};
watchInterrupts('test', 'finishing what it does');
process.stdout.write('ready\\n');
setInterval(() => undefined, 1000);`;
  const cli = startNode(['--import', 'tsx', '--input-type=module', '-e', script]);
  running.push(cli);
  await cli.waitFor('stdout', /ready/);
  cli.child.kill('SIGINT');
  await cli.waitFor('stderr', /SIGINT, stopping: finishing what it does/);
  assert.equal(cli.child.exitCode, null, 'the first signal only asks to stop');
  cli.child.kill('SIGINT');
  assert.deepEqual(await cli.exited, { code: 130, signal: null });
  assert.match(cli.stderr(), /^groknet test: SIGINT again, exiting at once$/m);
});
