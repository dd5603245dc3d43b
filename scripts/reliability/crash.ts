// Crash harness: SIGKILL at random moments, then reopen and resume.
//   index  `groknet index` (one process) killed N times; after each kill the catalog must
//          open with no product half-written or duplicated, and the resumed run must end with
//          exactly the products and analyses of an uninterrupted run.
//   queue  two queue workers on a real redis-server (random loopback port) killed N times,
//          restarted each time; the same checks, and every job must end completed.
//   train  `groknet train --resume` on generated data killed N times; the finished run must
//          have the step count (and weights) of an uninterrupted run, and the model
//          directory must never hold an artifact that fails to load.
//   cache  a first `groknet analyze` with an empty GROKNET_CACHE, killed while it converts the
//          backbone: no `.onnx` that fails to load may be left in the cache.
//
//   npm run crash -- [--kills 20] [--seed 1] [--parts index,queue,train,cache] [--smoke] [--out FILE] [--report]
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue } from 'bullmq';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { parseModel } from '../../src/model/onnx/graph-builder.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { redisOptions } from '../../src/queue/connection.ts';
import { enqueueIngest } from '../../src/queue/enqueue.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { createTinyModel } from '../../test/helpers/tiny-model.ts';
import { redisAvailable, startRedis } from '../../test/helpers/redis.ts';
import { CLI, intFlag, parseFlags, REPO, round, startChild, stopChild, tsxArgs, writeReportSection, type Child } from './lib/common.ts';
import { rngFrom, type Rng } from './lib/formats.ts';

const WORKER_CHILD = path.join(REPO, 'scripts', 'reliability', 'lib', 'worker-child.ts');

export type Part = 'index' | 'queue' | 'train' | 'cache';

export interface CrashOptions {
  /** SIGKILLs of `groknet index`. */
  kills: number;
  /** Kill events among the queue workers (one or both workers each time). */
  queueKills: number;
  /** SIGKILLs of `groknet train --resume` (each run takes seconds). */
  trainKills: number;
  /** SIGKILLs of a first `groknet analyze` converting into an empty cache. */
  cacheKills: number;
  seed: number;
  parts: Part[];
  products: number;
  log: (line: string) => void;
}

export interface PartResult {
  part: Part;
  ok: boolean;
  kills: number;
  /** Runs that finished before the kill landed. */
  finishedEarly: number;
  checks: number;
  failures: string[];
  notes: string[];
  figures: Record<string, unknown>;
  seconds: number;
}

export interface CrashSummary {
  ok: boolean;
  command: string;
  seed: number;
  parts: PartResult[];
  elapsedS: number;
}

// ---------------------------------------------------------------- data and catalog checks

/** P product folders of 3 distinct generated photos each (a torn write shows as a 1- or 2-image product). */
async function writeSource(dir: string, products: number, seed: number): Promise<void> {
  const rng = rngFrom(seed);
  for (let p = 0; p < products; p++) {
    const folder = path.join(dir, `p${String(p).padStart(3, '0')}`);
    await mkdir(folder, { recursive: true });
    for (let k = 0; k < 3; k++) {
      const base = [rng.int(256), rng.int(256), rng.int(256)];
      const size = 64;
      const data = Buffer.alloc(size * size * 3);
      for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.max(0, Math.min(255, base[c]! + rng.int(60) - 30 + (i % size)));
      await sharp(data, { raw: { width: size, height: size, channels: 3 } }).png().toFile(path.join(folder, `${k}.png`));
    }
  }
}

interface ImageSnap {
  contentHash: string;
  code: string;
  labels: Record<string, string>;
  embedding: number[];
}
interface ProductSnap {
  title: string;
  productHash: string;
  images: ImageSnap[];
}
type Snapshot = Map<string, ProductSnap>;

/** Opens the catalog (it must open), checks every row, and returns its products. */
async function inspectCatalog(dir: string, failures: string[], when: string): Promise<Snapshot> {
  const snap: Snapshot = new Map();
  if (!existsSync(path.join(dir, 'catalog.json'))) return snap;
  let catalog: CatalogStore;
  try {
    catalog = await openCatalog(dir);
  } catch (error) {
    failures.push(`${when}: the catalog does not open: ${(error as Error).message}`);
    return snap;
  }
  try {
    const table = await catalog.table();
    if (!table) return snap;
    const rows = await table.query().select(['row_key', 'product_id', 'image_count', 'image_index']).toArray();
    const keys = rows.map((r) => String(r.row_key));
    if (new Set(keys).size !== keys.length) failures.push(`${when}: ${keys.length - new Set(keys).size} duplicated image rows`);
    const perProduct = new Map<string, { rows: number; expected: number; indexes: Set<number> }>();
    for (const row of rows) {
      const id = String(row.product_id);
      const entry = perProduct.get(id) ?? { rows: 0, expected: Number(row.image_count), indexes: new Set<number>() };
      entry.rows++;
      entry.indexes.add(Number(row.image_index));
      perProduct.set(id, entry);
    }
    for (const [id, e] of perProduct) {
      if (e.rows !== e.expected || e.indexes.size !== e.expected) failures.push(`${when}: product ${id} has ${e.rows} rows for ${e.expected} images (half-written or duplicated)`);
    }
    for (let offset = 0; ; offset += 500) {
      const page = await catalog.listProducts({ offset, limit: 500, withEmbeddings: true });
      for (const p of page) {
        snap.set(p.id, {
          title: p.title,
          productHash: p.productHash,
          images: p.images.map((i) => ({ contentHash: i.contentHash, code: i.code, labels: i.labels, embedding: Array.from(i.embedding ?? []) })),
        });
      }
      if (page.length < 500) break;
    }
  } catch (error) {
    failures.push(`${when}: reading the catalog failed: ${(error as Error).message}`);
  } finally {
    await catalog.close();
  }
  return snap;
}

/** Every product in `actual` must equal the reference; with `complete`, all reference products must be there. */
function compareSnapshots(actual: Snapshot, reference: Snapshot, complete: boolean, failures: string[], notes: string[], when: string): void {
  for (const [id, p] of actual) {
    const ref = reference.get(id);
    if (!ref) {
      failures.push(`${when}: unexpected product ${id}`);
      continue;
    }
    if (p.title !== ref.title || p.productHash !== ref.productHash || p.images.length !== ref.images.length) {
      failures.push(`${when}: product ${id} differs from the uninterrupted run`);
      continue;
    }
    p.images.forEach((image, k) => {
      const r = ref.images[k]!;
      if (image.contentHash !== r.contentHash) failures.push(`${when}: ${id} image ${k} has another photo`);
      const diff = Math.max(0, ...image.embedding.map((v, i) => Math.abs(v - (r.embedding[i] ?? NaN))));
      if (!(diff < 1e-4)) failures.push(`${when}: ${id} image ${k} embedding differs by ${diff}`);
      else if (image.code !== r.code) notes.push(`${when}: ${id} image ${k} code differs in a bit near zero (embedding within ${diff.toExponential(1)})`);
      if (JSON.stringify(image.labels) !== JSON.stringify(r.labels)) failures.push(`${when}: ${id} image ${k} labels differ`);
    });
  }
  if (complete) {
    const missing = [...reference.keys()].filter((id) => !actual.has(id));
    if (missing.length > 0) failures.push(`${when}: ${missing.length} products missing (${missing.slice(0, 5).join(', ')})`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RunOptions {
  /** SIGKILL this long after the start, or after `trigger` first holds. */
  killAfterMs?: number;
  /** Polled every 5 ms; the kill delay counts from the first time it returns true. */
  trigger?: (child: Child) => boolean;
  limitMs?: number;
}

/** Runs a command to completion or until it is killed; returns what happened. */
async function runOnce(args: string[], env: NodeJS.ProcessEnv, options: RunOptions = {}): Promise<{ killed: boolean; code: number | null; ms: number; child: Child; triggeredMs?: number }> {
  const started = performance.now();
  const child = startChild(process.execPath, args, { env, cwd: REPO });
  let killed = false;
  let killer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (options.killAfterMs !== undefined) killer = setTimeout(() => (killed = child.proc.kill('SIGKILL')), options.killAfterMs);
  };
  let triggeredMs: number | undefined;
  const poll = options.trigger === undefined ? undefined : setInterval(() => {
    if (triggeredMs === undefined && options.trigger!(child)) {
      triggeredMs = performance.now() - started;
      arm();
    }
  }, 5);
  if (!options.trigger) arm();
  const limit = setTimeout(() => child.proc.kill('SIGKILL'), options.limitMs ?? 300_000);
  const { code, signal } = await child.exited;
  clearTimeout(killer);
  clearTimeout(limit);
  clearInterval(poll);
  return { killed: killed && signal === 'SIGKILL', code, ms: performance.now() - started, child, triggeredMs };
}

/** LanceDB commits in a catalog directory so far (one manifest per table version). */
function commitCounter(dir: string): () => number {
  return () => {
    let n = 0;
    try {
      for (const entry of readdirSync(dir)) if (entry.endsWith('.lance')) n += readdirSync(path.join(dir, entry, '_versions')).length;
    } catch {
      // not created yet
    }
    return n;
  };
}

// ---------------------------------------------------------------- index

/** `--no-detect` keeps the COCO detector (and its backbone conversion) out of these runs, where the CLI has it. */
async function indexArgs(): Promise<string[]> {
  const source = await readFile(path.join(REPO, 'src', 'cli', 'commands', 'index.ts'), 'utf8').catch(() => '');
  return source.includes("'no-detect'") ? ['--no-detect'] : [];
}

/** The uninterrupted run, in this process: the same ingest the CLI runs, over the same model. */
async function referenceSnapshot(source: string, modelDir: string, data: string, batchSize: number, failures: string[]): Promise<{ snapshot: Snapshot; ms: number }> {
  const analyzer = await ModelAnalyzer.open(modelDir);
  const catalog = await openCatalog(data, { embeddingDim: analyzer.embeddingDim });
  let ms = 0;
  try {
    const summary = await ingest(source, { catalog, analyzer, batchSize });
    ms = summary.elapsedMs;
    if (summary.failed.length > 0) failures.push(`reference ingest: ${JSON.stringify(summary.failed.slice(0, 3))}`);
  } finally {
    await catalog.close();
    await analyzer.close();
  }
  return { snapshot: await inspectCatalog(data, failures, 'reference'), ms };
}

async function partIndex(work: string, modelDir: string, options: CrashOptions, rng: Rng): Promise<PartResult> {
  const started = performance.now();
  const failures: string[] = [];
  const notes: string[] = [];
  const source = path.join(work, 'index-source');
  await writeSource(source, options.products, options.seed);
  const extra = await indexArgs();
  const env = { ...process.env, GROKNET_DEBUG: '1' };
  const args = (data: string) => [CLI, 'index', source, '--data', data, '--model', modelDir, '--batch', '4', ...extra];

  const ref = await referenceSnapshot(source, modelDir, path.join(work, 'index-ref'), 4, failures);
  const reference = ref.snapshot;
  if (reference.size !== options.products) failures.push(`reference run stored ${reference.size} of ${options.products} products`);
  // Start-up (Node, tsx, ONNX Runtime, the model) is most of a short run and its length varies
  // with load, so most kills are timed from a commit of the killed run itself: they land while
  // products are analysed, committed and the indexes optimised (about as long as the reference
  // ingest). The first run is killed at its first commit, which also measures the start-up.
  // Rounds: a round kills runs over one catalog until a run gets to finish (the resumed
  // ingest then must hold exactly the reference), and the next round starts a fresh catalog,
  // so every kill lands in real work rather than in a run with nothing left to do.
  let rounds = 0;
  let data = path.join(work, `index-data-${rounds}`);
  let commits = commitCounter(data);
  const stored: number[] = [];
  let kills = 0;
  let finishedEarly = 0;
  let checks = 0;
  let startupMs = 0;
  let lastFinished: Awaited<ReturnType<typeof runOnce>> | undefined;
  let lastFinishedData = data;
  // How long a run goes on after the commit that arms its kill: the reference ingest's length at
  // first, then what runs that got to finish actually took (under load, or when the first
  // commit comes late in the run, that is much shorter, and kills timed past it never land).
  let afterCommitMs = ref.ms;
  for (let attempt = 0; kills < options.kills && attempt < options.kills * 4; attempt++) {
    const before = commits();
    const anywhere = attempt % 5 === 4;
    const run = attempt === 0
      ? await runOnce(args(data), env, { killAfterMs: 0, trigger: () => commits() > before })
      : anywhere
        ? await runOnce(args(data), env, { killAfterMs: rng.int(Math.round(startupMs + ref.ms)) })
        : await runOnce(args(data), env, { killAfterMs: rng.int(Math.max(1, Math.round(afterCommitMs))), trigger: () => commits() > before });
    if (attempt === 0) startupMs = run.triggeredMs ?? run.ms;
    if (run.killed) kills++;
    else if (run.code === 0) finishedEarly++;
    else failures.push(`run ${attempt}: exited ${run.code} without being killed: ${run.child.stderr().slice(-500)}`);
    if (!run.killed && run.code === 0 && run.triggeredMs !== undefined) afterCommitMs = Math.min(afterCommitMs, 0.9 * (run.ms - run.triggeredMs));
    const when = run.killed ? `after kill ${kills} (round ${rounds})` : `after the resumed run of round ${rounds}`;
    const snap = await inspectCatalog(data, failures, when);
    compareSnapshots(snap, reference, !run.killed, failures, notes, when);
    stored.push(snap.size);
    checks++;
    lastFinished = run.killed ? undefined : run;
    if (!run.killed) {
      lastFinishedData = data;
      rounds++;
      data = path.join(work, `index-data-${rounds}`);
      commits = commitCounter(data);
    }
  }
  // Resume: an uninterrupted run must end with exactly the reference catalog (when the last
  // run of the loop got to finish, it was that run, over the previous round's catalog).
  const final = lastFinished ?? (await runOnce(args(data), env));
  if (lastFinished) data = lastFinishedData;
  let summary: { total?: number; indexed?: number; unchanged?: number; failed?: unknown[] } = {};
  try {
    summary = JSON.parse(final.child.lines.at(-1) ?? '{}') as typeof summary;
  } catch {
    failures.push(`resumed run printed no summary: ${final.child.lines.at(-1)}`);
  }
  if (final.code !== 0) failures.push(`resumed run exited ${final.code}: ${final.child.stderr().slice(-800)}`);
  if ((summary.indexed ?? 0) + (summary.unchanged ?? 0) !== options.products) failures.push(`resumed run: ${JSON.stringify(summary)}`);
  const end = await inspectCatalog(data, failures, 'after the resumed run');
  compareSnapshots(end, reference, true, failures, notes, 'after the resumed run');
  // The optimise step (full-text index) must also have been completed by the resumed run.
  const catalog = await openCatalog(data);
  if (!(await catalog.hasTextIndex())) failures.push('after the resumed run: no full-text index');
  await catalog.close();
  return {
    part: 'index', ok: failures.length === 0, kills, finishedEarly, checks: checks + 1, failures, notes,
    figures: { products: options.products, images: options.products * 3, referenceIngestS: round(ref.ms / 1000), startupS: round(startupMs / 1000), rounds: rounds + 1, storedAfterEachRun: stored, resumed: summary },
    seconds: round((performance.now() - started) / 1000),
  };
}

// ---------------------------------------------------------------- queue

async function partQueue(work: string, modelDir: string, options: CrashOptions, rng: Rng): Promise<PartResult> {
  const started = performance.now();
  const failures: string[] = [];
  const notes: string[] = [];
  if (!redisAvailable()) return { part: 'queue', ok: true, kills: 0, finishedEarly: 0, checks: 0, failures, notes: ['skipped: no /usr/bin/redis-server'], figures: {}, seconds: 0 };
  const source = path.join(work, 'queue-source');
  const products = options.products * 2;
  await writeSource(source, products, options.seed + 1);
  const { snapshot: reference } = await referenceSnapshot(source, modelDir, path.join(work, 'queue-ref'), 1, failures);

  const redis = await startRedis();
  const queueName = 'groknet-crash';
  const data = path.join(work, 'queue-data');
  const queue = new Queue(queueName, { connection: redisOptions(redis.url) });
  queue.on('error', () => undefined);
  const workers: Array<Child | undefined> = [undefined, undefined];
  const lockMs = 2000;
  const jobDelayMs = 400;
  // What each worker is doing, from its output: kills are aimed at workers with a job in hand.
  const busy = [0, 0];
  const ready = [false, false];
  const spawnWorker = (slot: number): Promise<string> => {
    const child = startChild(process.execPath, tsxArgs(WORKER_CHILD, [redis.url, queueName, data, modelDir, String(jobDelayMs), String(lockMs)]), { cwd: REPO });
    workers[slot] = child;
    busy[slot] = 0;
    ready[slot] = false;
    child.onLine((line) => {
      if (workers[slot] !== child) return;
      if (line === 'ready') ready[slot] = true;
      else if (line.startsWith('active ')) busy[slot]!++;
      else if (line.startsWith('completed ') || line.startsWith('failed ')) busy[slot] = Math.max(0, busy[slot]! - 1);
    });
    return child.waitFor(/^ready$/, 120_000).catch((error: Error) => (child.proc.signalCode === 'SIGKILL' ? 'killed' : Promise.reject(error)));
  };
  let kills = 0;
  let checks = 0;
  let reEnqueued = 0;
  const stored: number[] = [];
  try {
      // Enqueueing is what `groknet index SOURCE --queue URL` does, called in this process.
    const enqueue = async () => {
      const summary = await enqueueIngest(source, { redisUrl: redis.url, queueName });
      if (summary.failed.length > 0) failures.push(`enqueue: ${JSON.stringify(summary.failed.slice(0, 3))}`);
      return summary;
    };
    await Promise.all([spawnWorker(0), spawnWorker(1)]);
    const first = await enqueue();
    options.log(`queue: ${first.enqueued} jobs on redis port ${redis.port}`);
    const remaining = async () => {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      return Object.values(c).reduce((a, b) => a + b, 0);
    };
    for (let i = 0; i < options.queueKills; i++) {
      if ((await remaining()) === 0) {
        notes.push(`the queue drained after ${i} kills`);
        break;
      }
      // Let the workers make progress, then wait (bounded) for a worker with a job in hand
      // and kill inside the job's ~0.5 s (analysis, then the catalog commit):
      // mostly that worker, one time in five both at once.
      await sleep(500 + rng.int(1500));
      for (let waited = 0; waited < 60_000 && !(ready[0] && busy[0]! > 0) && !(ready[1] && busy[1]! > 0); waited += 50) await sleep(50);
      const candidates = [0, 1].filter((w) => ready[w] && busy[w]! > 0);
      await sleep(rng.int(jobDelayMs + 200));
      const victims = rng.next() < 0.2 || candidates.length === 0 ? [0, 1] : [rng.pick(candidates)];
      for (const v of victims) {
        workers[v]?.proc.kill('SIGKILL');
        await workers[v]?.exited;
        kills++;
      }
      const snap = await inspectCatalog(data, failures, `after kill ${i}`);
      compareSnapshots(snap, reference, false, failures, notes, `after kill ${i}`);
      stored.push(snap.size);
      checks++;
      for (const v of victims) void spawnWorker(v);
    }
    for (const w of workers) await w?.waitFor(/^ready$/, 120_000);
    // Let the surviving workers finish; jobs whose workers died too often are failed by
    // BullMQ (maxStalledCount) and put back by enqueueing the source again.
    const deadline = performance.now() + 180_000;
    while (performance.now() < deadline) {
      if ((await remaining()) === 0) {
        const failedJobs = await queue.getJobCountByTypes('failed');
        if (failedJobs === 0) break;
        const again = await enqueue();
        reEnqueued += again.retried ?? 0;
        notes.push(`${failedJobs} job(s) failed after repeated worker deaths (BullMQ maxStalledCount); enqueueing the source again retried ${again.retried}`);
      }
      await sleep(500);
    }
    const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
    if (counts.completed !== products || counts.failed !== 0) failures.push(`jobs at the end: ${JSON.stringify(counts)} (expected ${products} completed)`);
    for (const w of workers) if (w) await stopChild(w);
    const end = await inspectCatalog(data, failures, 'after the queue drained');
    compareSnapshots(end, reference, true, failures, notes, 'after the queue drained');
    return {
      part: 'queue', ok: failures.length === 0, kills, finishedEarly: 0, checks: checks + 1, failures, notes,
      figures: { products, images: products * 3, workers: 2, lockMs, jobDelayMs, jobs: counts, storedAfterEachKill: stored, reEnqueued },
      seconds: round((performance.now() - started) / 1000),
    };
  } finally {
    for (const w of workers) if (w && w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
    await queue.close().catch(() => undefined);
    await redis.stop();
  }
}

// ---------------------------------------------------------------- train

/** A fresh GROKNET_CACHE that reuses already converted backbones (read-only links), so runs do not convert. */
async function cacheWithBackbones(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'backbones'), { recursive: true });
  const home = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'groknet', 'backbones');
  for (const name of await readdir(home).catch(() => [] as string[])) {
    if (name.endsWith('.onnx')) await symlink(path.join(home, name), path.join(dir, 'backbones', name)).catch(() => undefined);
  }
  return dir;
}

const EPOCHS = 60;

async function writeTrainData(dir: string): Promise<string> {
  const colours = ['#d22', '#2a2', '#22d', '#da2'];
  for (const [k, kind] of ['circle', 'square', 'stripes'].entries()) {
    await mkdir(path.join(dir, 'shapes', kind), { recursive: true });
    for (let i = 0; i < 10; i++) {
      const jitter = (i * 7) % 20;
      const body = kind === 'circle'
        ? `<circle cx="${60 + jitter}" cy="60" r="${30 + i}" fill="${colours[i % 4]}"/>`
        : kind === 'square' ? `<rect x="${25 + jitter}" y="25" width="70" height="70" fill="${colours[i % 4]}"/>`
          : Array.from({ length: 6 }, (_, j) => `<rect x="0" y="${j * 20 + (i % 5)}" width="120" height="8" fill="${colours[(i + k) % 4]}"/>`).join('');
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120"><rect width="120" height="120" fill="#f4f4f4"/>${body}</svg>`;
      await sharp(Buffer.from(svg)).png().toFile(path.join(dir, 'shapes', kind, `${i}.png`));
    }
  }
  const config = {
    name: 'crash-train',
    version: '0.0.1',
    seed: 3,
    datasets: [{ name: 'shapes', adapter: 'folder', path: 'shapes', head: 'shape', views: 1, valFraction: 0.2 }],
    tasks: [{ head: 'shape', loss: 'softmax', dataset: 'shapes' }, { head: 'embedding', loss: 'contrastive' }],
    model: { shared: [64], embeddingDim: 32, codeBits: 32, dropout: 0.2 },
    optimizer: { epochs: EPOCHS, batchSize: 8, learningRate: 0.005 },
    checkpointEvery: 5,
  };
  const file = path.join(dir, 'train.json');
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

async function readSteps(dir: string): Promise<number | undefined> {
  try {
    return (JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as { training?: { steps?: number } }).training?.steps;
  } catch {
    return undefined;
  }
}

/** An artifact directory is fine when it has no manifest yet, or when the model it describes loads and runs. */
async function checkArtifact(dir: string, failures: string[], when: string, probe: Buffer): Promise<'absent' | 'loads'> {
  if (!existsSync(path.join(dir, 'model.json'))) return 'absent';
  try {
    const analyzer = await ModelAnalyzer.open(dir);
    const [result] = await analyzer.analyzeBuffers([probe]);
    await analyzer.close();
    if (!result || result instanceof Error) throw result ?? new Error('no result');
    return 'loads';
  } catch (error) {
    failures.push(`${when}: the model directory holds an artifact that does not load: ${(error as Error).message}`);
    return 'absent';
  }
}

/** Largest difference between the float initializers of two ONNX graphs of the same shape. */
function maxWeightDiff(a: Uint8Array, b: Uint8Array, perTensor?: Record<string, number>): number {
  const ga = parseModel(a).graph;
  const gb = parseModel(b).graph;
  const floats = (t: { floatData?: number[] | null; rawData?: Uint8Array | null }): Float32Array =>
    t.floatData && t.floatData.length > 0 ? Float32Array.from(t.floatData) : new Float32Array(Uint8Array.from(t.rawData ?? []).buffer);
  let diff = 0;
  for (const ta of ga?.initializer ?? []) {
    const tb = gb?.initializer?.find((t) => t.name === ta.name);
    if (!tb) return Infinity;
    const va = floats(ta);
    const vb = floats(tb);
    if (va.length !== vb.length) return Infinity;
    let own = 0;
    for (let i = 0; i < va.length; i++) own = Math.max(own, Math.abs(va[i]! - vb[i]!));
    if (perTensor && own > 0) perTensor[ta.name ?? '?'] = own;
    diff = Math.max(diff, own);
  }
  return diff;
}

/** The step of the checkpoint in a cache, or 'none'. */
async function checkpointStep(cache: string): Promise<string> {
  const dir = path.join(cache, 'checkpoints');
  const names = readdirSafe(dir).filter((n) => n.endsWith('.ckpt'));
  if (names.length === 0) return 'none';
  try {
    const bytes = await readFile(path.join(dir, names[0]!));
    const header = JSON.parse(bytes.subarray(4, 4 + bytes.readUInt32LE(0)).toString()) as { step: number };
    return `step ${header.step}`;
  } catch (error) {
    return `unreadable (${(error as Error).message.slice(0, 60)})`;
  }
}

/** The first epoch line a run printed: where it resumed. */
function resumedFrom(stderr: string): string {
  return /epoch (\d+)\/\d+/.exec(stderr)?.[1] !== undefined ? `epoch ${/epoch (\d+)\/\d+/.exec(stderr)![1]}` : 'no epoch printed';
}

async function partTrain(work: string, options: CrashOptions, rng: Rng): Promise<PartResult> {
  const started = performance.now();
  const failures: string[] = [];
  const notes: string[] = [];
  const config = await writeTrainData(path.join(work, 'train'));
  const probe = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#d22' } }).png().toBuffer();
  const refOut = path.join(work, 'train-ref');
  const refEnv = { ...process.env, GROKNET_CACHE: await cacheWithBackbones(path.join(work, 'train-cache-ref')) };
  const featuresReady = (child: Child) => /features: \d+ rows/.test(child.stderr());
  const ref = await runOnce([CLI, 'train', config, '--out', refOut], refEnv, { limitMs: 600_000, trigger: featuresReady });
  if (ref.code !== 0) throw new Error(`the uninterrupted training run failed: ${ref.child.stderr().slice(-1500)}`);
  const refSteps = await readSteps(refOut);
  const fitWindow = ref.ms - (ref.triggeredMs ?? 0);
  options.log(`train: reference run ${round(ref.ms / 1000)} s, ${refSteps} steps`);

  // The killed series has its own cache (features and checkpoints) and retrains over an
  // existing model directory, as `groknet train` does over models/groknet-base by default.
  const out = path.join(work, 'train-out');
  await cp(refOut, out, { recursive: true });
  const env = { ...process.env, GROKNET_CACHE: await cacheWithBackbones(path.join(work, 'train-cache')) };
  let kills = 0;
  let finishedEarly = 0;
  let checks = 0;
  const killTimes: number[] = [];
  const history: string[] = [];
  let endKills = 0;
  for (let i = 0; i < options.trainKills; i++) {
    // Every other kill aims at the end: 0-400 ms after the last epoch's line, while the
    // codes are learned, the model evaluated and the artifact written.
    // The others: one in three anywhere (start-up and feature extraction included), the rest
    // while the heads train, timed from the "features:" line.
    const atEnd = i % 2 === 1 && i !== options.trainKills - 1;
    const anywhere = !atEnd && i % 3 === 0;
    const at = atEnd ? rng.int(400) : anywhere ? rng.int(Math.round(ref.ms)) : rng.int(Math.round(fitWindow));
    killTimes.push(at);
    const run = await runOnce([CLI, 'train', config, '--out', out, '--resume'], env, {
      killAfterMs: at,
      limitMs: 600_000,
      ...(atEnd ? { trigger: (child: Child) => new RegExp(`epoch ${EPOCHS}/${EPOCHS}`).test(child.stderr()) } : anywhere ? {} : { trigger: featuresReady }),
    });
    history.push(`${i}: ${run.killed ? `killed at ${at} ms${atEnd ? ' after the last epoch' : anywhere ? '' : ' after the features'}` : `exit ${run.code}`}, resumed from ${resumedFrom(run.child.stderr())}, checkpoint now ${await checkpointStep(env.GROKNET_CACHE)}`);
    if (run.killed) {
      kills++;
      if (atEnd && run.triggeredMs !== undefined) endKills++;
    } else if (run.code === 0) finishedEarly++;
    else failures.push(`run ${i}: exited ${run.code} without being killed: ${run.child.stderr().slice(-800)}`);
    await checkArtifact(out, failures, `after kill ${i}${atEnd ? ` ${at} ms after the last epoch` : ` at ${at} ms`}`, probe);
    checks++;
    // Once the checkpoint holds the last step a resumed run only exports; start the next run
    // from scratch (a new training over the same model directory) so its kill lands in training.
    if (atEnd || !run.killed) await rm(path.join(env.GROKNET_CACHE, 'checkpoints'), { recursive: true, force: true });
  }
  const final = await runOnce([CLI, 'train', config, '--out', out, '--resume'], env, { limitMs: 600_000 });
  if (final.code !== 0) failures.push(`the resumed run failed: ${final.child.stderr().slice(-1500)}`);
  const steps = await readSteps(out);
  if (steps !== refSteps) failures.push(`resumed run reports ${steps} steps, the uninterrupted run ${refSteps}`);
  await checkArtifact(out, failures, 'after the resumed run', probe);
  // Weights and evaluation of the resumed run against the uninterrupted one: bit for bit
  // (the features are one cache shard here, so every run trains on identical bytes).
  const perTensor: Record<string, number> = {};
  const weightDiff = maxWeightDiff(await readFile(path.join(out, 'heads.onnx')), await readFile(path.join(refOut, 'heads.onnx')), perTensor);
  if (weightDiff !== 0) failures.push(`the resumed run's weights differ from the uninterrupted run's by ${weightDiff}: ${JSON.stringify(perTensor)}; runs: ${history.join(' | ')}`);
  const evaluation = async (dir: string) => JSON.stringify((JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as { evaluation?: unknown }).evaluation);
  const sameEvaluation = (await evaluation(out)) === (await evaluation(refOut));
  if (!sameEvaluation) failures.push('the resumed run\'s evaluation figures differ from the uninterrupted run\'s');
  return {
    part: 'train', ok: failures.length === 0, kills, finishedEarly, checks: checks + 1, failures, notes,
    figures: { referenceRunS: round(ref.ms / 1000), steps: refSteps, resumedSteps: steps, maxWeightDiff: weightDiff, sameEvaluation, killTimesMs: killTimes, killedAfterLastEpoch: endKills },
    seconds: round((performance.now() - started) / 1000),
  };
}

// ---------------------------------------------------------------- cache

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function onnxFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

async function partCache(work: string, options: CrashOptions, rng: Rng): Promise<PartResult> {
  const started = performance.now();
  const failures: string[] = [];
  const notes: string[] = [];
  const probe = path.join(work, 'cache-probe.png');
  await sharp({ create: { width: 64, height: 64, channels: 3, background: '#2a2' } }).png().toFile(probe);
  const args = [CLI, 'analyze', '--json', probe];
  const refCache = path.join(work, 'cache-ref');
  const cache = path.join(work, 'cache');
  // Moments that matter: the cache folder appears right before the converted backbone is
  // written; once the backbone file is there, the full graph is composed and written.
  const dirMade = (dir: string) => () => existsSync(path.join(dir, 'backbones'));
  const backboneWritten = (dir: string) => () => readdirSafe(path.join(dir, 'backbones')).some((n) => n.endsWith('.onnx'));
  const ref = await runOnce(args, { ...process.env, GROKNET_CACHE: refCache }, { limitMs: 600_000, trigger: backboneWritten(refCache) });
  if (ref.code !== 0) throw new Error(`the uninterrupted conversion failed: ${ref.child.stderr().slice(-1500)}`);
  const afterBackbone = ref.ms - (ref.triggeredMs ?? 0);
  options.log(`cache: an uninterrupted first run takes ${round(ref.ms / 1000)} s, the backbone is written at ${round((ref.triggeredMs ?? 0) / 1000)} s`);
  const aims: Record<string, number> = { anywhere: 0, 'backbone write': 0, 'graph composition and write': 0 };
  let kills = 0;
  let finishedEarly = 0;
  let checks = 0;
  let leftovers = 0;
  let onnxChecked = 0;
  const loaded = new Set<string>();
  for (let i = 0; i < options.cacheKills; i++) {
    // Each kill starts from an empty cache, so every one lands in a conversion or its write.
    await rm(cache, { recursive: true, force: true });
    const aim = (['anywhere', 'backbone write', 'graph composition and write'] as const)[i % 3]!;
    aims[aim]!++;
    const env = { ...process.env, GROKNET_CACHE: cache };
    const at = aim === 'anywhere' ? rng.int(Math.round(ref.ms)) : aim === 'backbone write' ? rng.int(60) : rng.int(Math.max(1, Math.round(afterBackbone)));
    const run = await runOnce(args, env, {
      killAfterMs: at,
      limitMs: 600_000,
      ...(aim === 'anywhere' ? {} : { trigger: aim === 'backbone write' ? dirMade(cache) : backboneWritten(cache) }),
    });
    if (run.killed) kills++;
    else finishedEarly++;
    for (const file of await onnxFiles(cache)) {
      if (file.endsWith('.onnx')) {
        try {
          const session = await ort.InferenceSession.create(file);
          await session.release();
          loaded.add(path.basename(file));
          onnxChecked++;
        } catch (error) {
          failures.push(`after kill ${i} (${aim}, ${at} ms): ${path.relative(cache, file)} does not load: ${(error as Error).message.slice(0, 200)}`);
        }
      } else if (/\.tmp-/.test(file)) leftovers++;
    }
    checks++;
  }
  // And a killed cache must be usable by the next run.
  const final = await runOnce(args, { ...process.env, GROKNET_CACHE: cache }, { limitMs: 600_000 });
  if (final.code !== 0 || !final.child.lines.some((l) => l.includes('"heads"'))) failures.push(`the run after the kills failed: ${final.child.stderr().slice(-800)}`);
  if (leftovers > 0) notes.push(`${leftovers} temporary file(s) left by killed conversions (never trusted: only renamed files are read)`);
  return {
    part: 'cache', ok: failures.length === 0, kills, finishedEarly, checks: checks + 1, failures, notes,
    figures: { firstRunS: round(ref.ms / 1000), killsAimedAt: aims, onnxFilesLeftAndLoaded: onnxChecked, distinctOnnxFiles: [...loaded].length, tempLeftovers: leftovers },
    seconds: round((performance.now() - started) / 1000),
  };
}

// ---------------------------------------------------------------- main

export async function runCrash(options: CrashOptions): Promise<CrashSummary> {
  const started = performance.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-crash-'));
  const rng = rngFrom(options.seed);
  const parts: PartResult[] = [];
  try {
    const modelDir = path.join(work, 'model');
    await mkdir(modelDir);
    await createTinyModel(modelDir);
    for (const part of options.parts) {
      options.log(`--- ${part}`);
      try {
        if (part === 'index') parts.push(await partIndex(work, modelDir, options, rng));
        else if (part === 'queue') parts.push(await partQueue(work, modelDir, options, rng));
        else if (part === 'train') parts.push(await partTrain(work, options, rng));
        else if (part === 'cache') parts.push(await partCache(work, options, rng));
      } catch (error) {
        parts.push({ part, ok: false, kills: 0, finishedEarly: 0, checks: 0, failures: [`harness error: ${(error as Error).message}`], notes: [], figures: {}, seconds: 0 });
      }
      const last = parts.at(-1)!;
      options.log(`${part}: ${last.ok ? 'ok' : 'FAILED'}, ${last.kills} kills, ${last.checks} checks, ${last.seconds} s${last.failures.length ? `\n  ${last.failures.slice(0, 10).join('\n  ')}` : ''}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
  return {
    ok: parts.every((p) => p.ok),
    command: `npm run crash -- ${process.argv.slice(2).join(' ')}`.trim(),
    seed: options.seed,
    parts,
    elapsedS: round((performance.now() - started) / 1000),
  };
}

export function crashMarkdown(s: CrashSummary): string {
  const lines = [
    `Command: \`${s.command}\` (seed ${s.seed}), ${s.elapsedS} s.`,
    '',
    '| part | kills | finished before the kill | checks | result | figures |',
    '|---|---|---|---|---|---|',
  ];
  for (const p of s.parts) {
    lines.push(`| ${p.part} | ${p.kills} | ${p.finishedEarly} | ${p.checks} | ${p.ok ? 'pass' : `**fail**: ${p.failures.slice(0, 3).join('; ')}`} | \`${JSON.stringify(p.figures)}\` |`);
  }
  const notes = s.parts.flatMap((p) => [...new Set(p.notes)].map((n) => `- ${p.part}: ${n}`));
  if (notes.length > 0) lines.push('', 'Notes:', ...notes.slice(0, 20));
  return lines.join('\n');
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), {
    kills: 'string', 'queue-kills': 'string', 'train-kills': 'string', 'cache-kills': 'string', seed: 'string', parts: 'string', products: 'string', smoke: 'boolean', out: 'string', report: 'boolean',
  });
  const smoke = flags.smoke === true;
  const kills = intFlag(flags.kills, smoke ? 3 : 20, 'kills');
  const summary = await runCrash({
    kills,
    queueKills: intFlag(flags['queue-kills'], smoke ? 1 : kills, 'queue-kills'),
    trainKills: intFlag(flags['train-kills'], smoke ? 1 : 8, 'train-kills'),
    cacheKills: intFlag(flags['cache-kills'], smoke ? 1 : kills, 'cache-kills'),
    seed: intFlag(flags.seed, Date.now() % 100_000, 'seed'),
    parts: ((flags.parts as string | undefined) ?? (smoke ? 'index,queue' : 'index,queue,train,cache')).split(',').map((p) => p.trim()) as Part[],
    products: intFlag(flags.products, smoke ? 12 : 60, 'products'),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const json = JSON.stringify(summary, null, 2);
  if (flags.out) await writeFile(String(flags.out), `${json}\n`);
  process.stdout.write(`${json}\n`);
  if (flags.report) await writeReportSection('crash', crashMarkdown(summary));
  process.exitCode = summary.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
