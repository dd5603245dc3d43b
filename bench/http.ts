// The HTTP service under load with the shipped model: autocannon on loopback against
// POST /v1/analyze (a real product photo) and POST /v1/search (words with a filter, and a
// photo), at saturation and beyond the inference queue's bound, with cross-request
// batching on (--batch 16, the default) and off (--batch 1). Reports throughput, p50/p99,
// the 429 share, the images per analyzer run (from /metrics) and the server's RSS.
// Run: node --import tsx bench/http.ts [--duration 60] [--datasets ../shared/datasets] [--batches 1,16] [--print]
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { CLI, REPO, round, sampleRss, startChild, stopChild, type Child } from '../scripts/reliability/lib/common.ts';
import { autocannon, phase, type AutocannonRequest, type PhaseResult } from '../scripts/reliability/lib/http-phase.ts';
import { readGroceryClasses } from '../src/train/datasets/grocery.ts';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    datasets: { type: 'string', default: '../shared/datasets' },
    batches: { type: 'string', default: '1,16' },
    'connections-at': { type: 'string', default: '32' },
    'connections-beyond': { type: 'string', default: '400' },
    print: { type: 'boolean', default: false },
  },
});
const DURATION = Number(values.duration);
const AT = Number(values['connections-at']);
const BEYOND = Number(values['connections-beyond']);
const BATCHES = values.batches!.split(',').map(Number);
const API_KEY = 'bench-key';
const grocery = path.join(path.resolve(values.datasets!), 'grocery');
const real = existsSync(path.join(grocery, 'classes.csv'));

const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-http-bench-'));
const source = path.join(work, 'source');
await mkdir(source, { recursive: true });

// The catalog: the grocery catalog images with their names (or generated products without
// the datasets), indexed once with the shipped model.
const listings: string[] = [];
let queryPhoto: Buffer;
if (real) {
  const classes = await readGroceryClasses(grocery);
  for (const c of classes) {
    const name = `catalog-${c.fineId}.jpg`;
    await writeFile(path.join(source, name), await readFile(c.iconicImage));
    listings.push(JSON.stringify({ id: `catalog-${c.fineId}`, title: `${c.fine} (${c.coarse})`, price: 1 + (c.fineId % 9), currency: 'EUR', image: name }));
  }
  const firstVal = (await readFile(path.join(grocery, 'val.txt'), 'utf8')).split('\n').find(Boolean)!.split(',')[0]!.trim();
  queryPhoto = await readFile(path.join(grocery, firstVal));
} else {
  for (let i = 0; i < 100; i++) {
    const name = `${i}.jpg`;
    await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 } } }).jpeg().toFile(path.join(source, name));
    listings.push(JSON.stringify({ id: `item-${i}`, title: `juice ${i}`, price: 1 + (i % 9), currency: 'EUR', image: name }));
  }
  queryPhoto = await sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 120, b: 40 } } }).jpeg().toBuffer();
}
await writeFile(path.join(source, 'listings.jsonl'), `${listings.join('\n')}\n`);
const data = path.join(work, 'data');
const index = startChild(process.execPath, [CLI, 'index', path.join(source, 'listings.jsonl'), '--data', data, '--no-detect'], { cwd: REPO });
if ((await index.exited).code !== 0) throw new Error(`indexing failed: ${index.stderr().slice(-1000)}`);
const queryMeta = await sharp(queryPhoto).metadata();

const analyze: AutocannonRequest = { method: 'POST', path: '/v1/analyze', body: queryPhoto, headers: { 'content-type': 'image/jpeg' } };
const searchText: AutocannonRequest = {
  method: 'POST',
  path: '/v1/search',
  body: JSON.stringify({ text: 'juice under 5', k: 10, filters: { currency: 'EUR' } }),
  headers: { 'content-type': 'application/json' },
};
const searchImage: AutocannonRequest = {
  method: 'POST',
  path: '/v1/search',
  body: JSON.stringify({ image: queryPhoto.toString('base64'), k: 10 }),
  headers: { 'content-type': 'application/json' },
};

interface BatchStats {
  runs: number;
  images: number;
}
/** Images per analyzer run so far, from the Prometheus histogram's _sum and _count. */
async function batchStats(url: string): Promise<BatchStats> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (suffix: string) => Number(new RegExp(`^groknet_inference_batch_size_${suffix}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? 0);
  return { runs: read('count'), images: read('sum') };
}

async function startServer(batch: number): Promise<{ server: Child; url: string }> {
  const server = startChild(
    process.execPath,
    [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--batch', String(batch), '--no-detect', '--rate-limit', '0', '--log-level', 'error'],
    { cwd: REPO, env: { ...process.env, GROKNET_API_KEY: API_KEY } },
  );
  const line = await server.waitFor(/serving .* on http:\/\/127\.0\.0\.1:\d+/, 180_000);
  return { server, url: /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]! };
}

interface Row {
  batch: number;
  result: PhaseResult;
  imagesPerRun?: number;
}
const rows: Row[] = [];
let peakRss = 0;
for (const batch of BATCHES) {
  const { server, url } = await startServer(batch);
  const rss = sampleRss(server.proc.pid!, 250);
  const t0 = performance.now();
  try {
    // Warm-up: ONNX Runtime's first runs at each batch size allocate.
    await autocannon({ url, connections: AT, duration: 5, timeout: 45, requests: [analyze] });
    const measured = async (name: string, connections: number, seconds: number, request: AutocannonRequest, inference: boolean) => {
      const before = await batchStats(url);
      const result = await phase(name, url, connections, seconds, request, rss, t0);
      const after = await batchStats(url);
      const runs = after.runs - before.runs;
      rows.push({ batch, result, ...(inference && runs > 0 ? { imagesPerRun: (after.images - before.images) / runs } : {}) });
      console.log(batch, name, result.rps, result.latencyMs, result.status, result.rssMb);
      // Let the queue drain so the next phase starts clean.
      await new Promise((r) => setTimeout(r, 3000));
    };
    await measured('analyze, at saturation', AT, DURATION, analyze, true);
    await measured('analyze, beyond the queue bound', BEYOND, Math.max(10, Math.round(DURATION / 2)), analyze, true);
    await measured('search by photo', AT, Math.max(10, Math.round(DURATION / 2)), searchImage, true);
    await measured('search by words + filter', AT, Math.max(10, Math.round(DURATION / 2)), searchText, false);
  } finally {
    rss.stop();
    peakRss = Math.max(peakRss, ...rss.samples.map((s) => s.mb));
    await stopChild(server);
  }
}

const total = (r: PhaseResult) => Object.values(r.status).reduce((a, b) => a + b, 0);
const share429 = (r: PhaseResult) => (total(r) > 0 ? ((r.status['429'] ?? 0) / total(r)) * 100 : 0);
const table = rows
  .map(({ batch, result: r, imagesPerRun }) => {
    const ok = r.status['200'] ?? 0;
    return `| ${r.name} | ${batch} | ${r.connections} | ${r.seconds} | ${round(ok / Math.max(1, r.seconds))} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${share429(r).toFixed(1)}% | ${Object.keys(r.status).filter((c) => !['200', '429'].includes(c)).map((c) => `${c}: ${r.status[c]}`).join(', ') || '0'} | ${imagesPerRun === undefined ? '-' : imagesPerRun.toFixed(1)} | ${r.rssMb.warm} → ${r.rssMb.end} |`;
  })
  .join('\n');

const section = `## HTTP service under load (issue: HTTP service and web page)

Command: \`node --import tsx bench/http.ts --duration ${DURATION} --batches ${BATCHES.join(',')}\`. Machine: ${machine()}. Server: \`groknet serve\` on 127.0.0.1 with the shipped model (models/groknet-base), ONNX Runtime CPU, detection off, rate limit off, inference queue bound 256, request deadline 30 s; the client (autocannon) runs on the same 2 cores.
Catalog: ${real ? `the ${listings.length} grocery catalog images of ../shared/datasets` : `${listings.length} generated products (no datasets found)`}. Analyze and search-by-photo send ${real ? 'a grocery val.txt photo' : 'a generated photo'} (${queryMeta.width}x${queryMeta.height} JPEG, ${(queryPhoto.length / 1024).toFixed(0)} KiB); search by words sends \`{"text": "juice under 5", "filters": {"currency": "EUR"}}\`.

| phase | --batch | connections | s | 200/s | p50 ms | p99 ms | 429 share | other statuses | images per analyzer run | server RSS MiB (warm → end) |
|---|---|---|---|---|---|---|---|---|---|---|
${table}

Peak server RSS over the run: ${round(peakRss)} MiB. "images per analyzer run" is read from \`groknet_inference_batch_size\` in /metrics: how many concurrent requests the batching window (5 ms) put into one ONNX Runtime run.`;
if (values.print) console.log(section);
else await writeSection('http', section);
await rm(work, { recursive: true, force: true });
