// Load harness: a real `groknet serve` on 127.0.0.1 (tiny model, small generated catalog,
// GROKNET_API_KEY set) driven with autocannon at and beyond saturation on POST /v1/analyze
// and POST /v1/search, then slowloris sockets (an upload body a byte per second) while a
// normal client keeps working. Checks: no 5xx; 429 carries Retry-After once the inference
// queue is full; p99 within the request timeout; server RSS flat after warm-up; slow
// senders do not starve other clients. Loopback only, every loop bounded by time.
//
//   npm run load -- [--duration 60] [--smoke] [--connections-beyond 400] [--slowloris 50] [--detect] [--out FILE] [--report]
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { DEFAULT_INFERENCE } from '../../src/server/config.ts';
import { createTinyModel } from '../../test/helpers/tiny-model.ts';
import { CLI, intFlag, parseFlags, percentile, REPO, round, sampleRss, startChild, stopChild, writeReportSection, type RssSeries } from './lib/common.ts';
import { rngFrom } from './lib/formats.ts';
import { autocannon, phase, type AutocannonRequest, type PhaseResult } from './lib/http-phase.ts';

export interface LoadOptions {
  duration: number;
  connectionsAt: number;
  connectionsBeyond: number;
  slowloris: number;
  slowlorisSeconds: number;
  detect: boolean;
  products: number;
  log: (line: string) => void;
}


export interface LoadSummary {
  ok: boolean;
  command: string;
  failures: string[];
  server: { model: string; products: number; maxQueue: number; maxBatch: number; requestTimeoutMs: number; detect: boolean };
  phases: PhaseResult[];
  slowloris: { sockets: number; seconds: number; heldOpenAtEnd: number; closedByServer: number; normalRequests: number; normalErrors: number; normalP50Ms: number; normalP99Ms: number; normalMaxMs: number; baselineP99Ms: number };
  rssMb: { start: number; peak: number; end: number };
  elapsedS: number;
}

const API_KEY = 'load-test-key-0123456789';

/** A photo-like JPEG (gradients and noise) at a typical upload size. */
async function photo(seed: number, width = 800, height = 600): Promise<Buffer> {
  const rng = rngFrom(seed);
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 255) / width;
      data[o + 1] = (y * 255) / height;
      data[o + 2] = 128 + rng.int(64);
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
}

/** Whether a CLI command has `--no-detect` (product detection, on by default where it exists). */
async function hasNoDetect(command: string): Promise<boolean> {
  const source = await readFile(path.join(REPO, 'src', 'cli', 'commands', `${command}.ts`), 'utf8').catch(() => '');
  return source.includes("'no-detect'");
}

async function buildCatalog(work: string, modelDir: string, products: number): Promise<string> {
  const source = path.join(work, 'source');
  await mkdir(source, { recursive: true });
  const colours = ['red', 'green', 'blue', 'yellow', 'black', 'white'];
  const rgb: Record<string, [number, number, number]> = { red: [220, 30, 30], green: [30, 180, 40], blue: [30, 40, 210], yellow: [235, 220, 40], black: [15, 15, 15], white: [245, 245, 245] };
  const lines: string[] = [];
  for (let i = 0; i < products; i++) {
    const colour = colours[i % colours.length]!;
    const [r, g, b] = rgb[colour]!;
    await sharp({ create: { width: 48, height: 48, channels: 3, background: { r: r + (i % 7), g, b } } }).png().toFile(path.join(source, `${i}.png`));
    lines.push(JSON.stringify({ id: `item-${i}`, title: `${colour} ${['shirt', 'mug', 'lamp', 'sofa'][i % 4]} ${i}`, description: `A ${colour} thing`, price: 5 + (i % 50), currency: 'EUR', image: `${i}.png` }));
  }
  await writeFile(path.join(source, 'listings.jsonl'), `${lines.join('\n')}\n`);
  const data = path.join(work, 'data');
  const noDetect = (await hasNoDetect('index')) ? ['--no-detect'] : [];
  const index = startChild(process.execPath, [CLI, 'index', path.join(source, 'listings.jsonl'), '--data', data, '--model', modelDir, ...noDetect], { cwd: REPO });
  const { code } = await index.exited;
  if (code !== 0) throw new Error(`building the catalog failed: ${index.stderr().slice(-1000)}`);
  return data;
}



/** Slow senders: each opens an upload and sends its body one byte per second. */
function slowloris(port: number, sockets: number, bodyBytes: number): { sockets: Socket[]; stop: () => void; closedByServer: () => number } {
  const open: Socket[] = [];
  let closed = 0;
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < sockets; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.on('close', () => closed++);
    socket.on('connect', () => {
      socket.write(`POST /v1/analyze HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: image/jpeg\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
      socket.write(Buffer.from([0xff]));
      timers.push(setInterval(() => {
        if (!socket.destroyed) socket.write(Buffer.from([0xd8]));
      }, 1000));
    });
    open.push(socket);
  }
  return {
    sockets: open,
    closedByServer: () => closed,
    stop: () => {
      for (const t of timers) clearInterval(t);
      for (const s of open) s.destroy();
    },
  };
}

/** A well-behaved client: health, search and analyze in turn, one at a time, for `seconds`. */
async function normalClient(url: string, seconds: number, image: Buffer): Promise<{ latencies: number[]; errors: string[] }> {
  const latencies: number[] = [];
  const errors: string[] = [];
  const end = performance.now() + seconds * 1000;
  const calls: Array<() => Promise<Response>> = [
    () => fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) }),
    () => fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'red shirt', k: 10 }), signal: AbortSignal.timeout(10_000) }),
    () => fetch(`${url}/v1/analyze`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(image), signal: AbortSignal.timeout(10_000) }),
  ];
  for (let i = 0; performance.now() < end; i++) {
    const t = performance.now();
    try {
      const res = await calls[i % calls.length]!();
      await res.arrayBuffer();
      if (res.status !== 200) errors.push(`status ${res.status}`);
    } catch (error) {
      errors.push((error as Error).message);
    }
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { latencies, errors };
}

export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const started = performance.now();
  const failures: string[] = [];
  const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-load-'));
  const modelDir = path.join(work, 'model');
  await mkdir(modelDir);
  await createTinyModel(modelDir);
  const data = await buildCatalog(work, modelDir, options.products);
  const serveArgs = [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--model', modelDir, '--rate-limit', '0', '--log-level', 'error'];
  if (!options.detect && (await hasNoDetect('serve'))) serveArgs.push('--no-detect');
  const server = startChild(process.execPath, serveArgs, { cwd: REPO, env: { ...process.env, GROKNET_API_KEY: API_KEY } });
  try {
    const line = await server.waitFor(/serving .* on http:\/\/127\.0\.0\.1:\d+/, 120_000);
    const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!;
    const port = Number(new URL(url).port);
    options.log(`server ${url} (pid ${server.proc.pid})`);
    const t0 = performance.now();
    const rss = sampleRss(server.proc.pid!, 250);
    const image = await photo(1);
    const analyze: AutocannonRequest = { method: 'POST', path: '/v1/analyze', body: image, headers: { 'content-type': 'image/jpeg' } };
    const search: AutocannonRequest = {
      method: 'POST',
      path: '/v1/search',
      body: JSON.stringify({ text: 'red shirt under 30', k: 20, filters: { currency: 'EUR' } }),
      headers: { 'content-type': 'application/json' },
    };
    const phases: PhaseResult[] = [];
    const run = async (name: string, connections: number, request: AutocannonRequest) => {
      options.log(`${name}: ${connections} connections for ${options.duration} s`);
      const result = await phase(name, url, connections, options.duration, request, rss, t0);
      options.log(`  ${result.requests} requests, ${result.rps}/s, p99 ${result.latencyMs.p99} ms, status ${JSON.stringify(result.status)}, errors ${result.errors}, rss ${JSON.stringify(result.rssMb)}`);
      phases.push(result);
    };
    // A short warm-up so the first phase does not measure start-up costs.
    await autocannon({ url, connections: 4, duration: 2, timeout: 45, requests: [analyze] });
    await run('analyze at saturation', options.connectionsAt, analyze);
    await run('analyze beyond the queue bound', options.connectionsBeyond, analyze);
    await run('search at saturation', options.connectionsAt, search);
    await run('search beyond saturation', options.connectionsBeyond, search);

    // Slowloris while a normal client works; a baseline for the normal client first, once
    // the server has worked off what the last phase left queued.
    await new Promise((r) => setTimeout(r, 5000));
    const baseline = await normalClient(url, Math.min(5, options.slowlorisSeconds), image);
    options.log(`slowloris: ${options.slowloris} sockets sending a byte per second for ${options.slowlorisSeconds} s`);
    const slow = slowloris(port, options.slowloris, 100_000);
    await new Promise((r) => setTimeout(r, 1000));
    const normal = await normalClient(url, options.slowlorisSeconds, image);
    const heldOpen = slow.sockets.filter((s) => !s.destroyed).length;
    const closedByServer = slow.closedByServer();
    slow.stop();
    rss.stop();

    const requestTimeoutMs = DEFAULT_INFERENCE.timeoutMs;
    for (const p of phases) {
      const fivexx = Object.entries(p.status).filter(([code]) => Number(code) >= 500).reduce((a, [, n]) => a + n, 0);
      if (fivexx > 0) failures.push(`${p.name}: ${fivexx} 5xx answers (${JSON.stringify(p.status)})`);
      if (p.errors > 0) failures.push(`${p.name}: ${p.errors} connection errors/timeouts`);
      if (p.latencyMs.p99 > requestTimeoutMs) failures.push(`${p.name}: p99 ${p.latencyMs.p99} ms exceeds the ${requestTimeoutMs} ms request timeout`);
      if (p.retryAfterMissing > 0) failures.push(`${p.name}: ${p.retryAfterMissing} 429 answers without Retry-After`);
      if (p.rssMb.growthPct > 15 && p.rssMb.end - p.rssMb.warm > 64) failures.push(`${p.name}: RSS grew from ${p.rssMb.warm} to ${p.rssMb.end} MiB after warm-up`);
      const unexpected = Object.keys(p.status).filter((code) => !['200', '429'].includes(code));
      if (unexpected.length > 0) failures.push(`${p.name}: unexpected statuses ${unexpected.join(', ')}`);
    }
    const beyond = phases.find((p) => p.name.startsWith('analyze beyond'))!;
    if (options.connectionsBeyond > DEFAULT_INFERENCE.maxQueue && !(beyond.status['429']! > 0)) {
      failures.push(`analyze beyond the queue bound: no 429 with ${options.connectionsBeyond} connections > maxQueue ${DEFAULT_INFERENCE.maxQueue}`);
    }
    const normalP99 = percentile(normal.latencies, 99);
    const baselineP99 = percentile(baseline.latencies, 99);
    if (normal.errors.length > 0) failures.push(`slowloris: the normal client saw ${normal.errors.length} errors (${normal.errors.slice(0, 3).join('; ')})`);
    if (normalP99 > Math.max(2000, baselineP99 * 5)) failures.push(`slowloris: the normal client's p99 rose to ${round(normalP99)} ms (baseline ${round(baselineP99)} ms)`);
    const end = rss.samples.at(-1)?.mb ?? 0;
    return {
      ok: failures.length === 0,
      command: `npm run load -- ${process.argv.slice(2).join(' ')}`.trim(),
      failures,
      server: { model: 'tiny-colour@0.0.1 (test/helpers/tiny-model.ts)', products: options.products, maxQueue: DEFAULT_INFERENCE.maxQueue, maxBatch: DEFAULT_INFERENCE.maxBatch, requestTimeoutMs, detect: options.detect },
      phases,
      slowloris: {
        sockets: options.slowloris,
        seconds: options.slowlorisSeconds,
        heldOpenAtEnd: heldOpen,
        closedByServer,
        normalRequests: normal.latencies.length,
        normalErrors: normal.errors.length,
        normalP50Ms: round(percentile(normal.latencies, 50)),
        normalP99Ms: round(normalP99),
        normalMaxMs: round(Math.max(0, ...normal.latencies)),
        baselineP99Ms: round(baselineP99),
      },
      rssMb: { start: round(rss.samples[0]?.mb ?? 0), peak: round(rss.peak), end: round(end) },
      elapsedS: round((performance.now() - started) / 1000),
    };
  } finally {
    await stopChild(server);
    await rm(work, { recursive: true, force: true });
  }
}

export function loadMarkdown(s: LoadSummary): string {
  const lines = [
    `Command: \`${s.command}\`, ${s.elapsedS} s. Server: \`groknet serve\` on 127.0.0.1 with ${s.server.model}, ${s.server.products} products, GROKNET_API_KEY set, rate limit off, inference queue bound ${s.server.maxQueue}, batch ${s.server.maxBatch}, request deadline ${s.server.requestTimeoutMs} ms, detection ${s.server.detect ? 'on' : 'off'}. Client: autocannon in the harness process (same 2 cores).`,
    '',
    '| phase | connections | requests | req/s | p50 ms | p99 ms | max ms | statuses | Retry-After (s) | RSS after warm-up → end (MiB) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const p of s.phases) {
    lines.push(`| ${p.name} | ${p.connections} | ${p.requests} | ${p.rps} | ${p.latencyMs.p50} | ${p.latencyMs.p99} | ${p.latencyMs.max} | ${Object.entries(p.status).map(([k, v]) => `${k}: ${v}`).join(', ')} | ${p.retryAfterValues.join(', ') || '–'} | ${p.rssMb.warm} → ${p.rssMb.end} (${p.rssMb.growthPct}%) |`);
  }
  const sl = s.slowloris;
  lines.push(
    '',
    `Slowloris: ${sl.sockets} sockets sending an upload body a byte per second for ${sl.seconds} s (${sl.heldOpenAtEnd} still open at the end, ${sl.closedByServer} closed by the server). A normal client meanwhile: ${sl.normalRequests} requests, ${sl.normalErrors} errors, p50 ${sl.normalP50Ms} ms, p99 ${sl.normalP99Ms} ms, max ${sl.normalMaxMs} ms (p99 without slow senders: ${sl.baselineP99Ms} ms).`,
    '',
    `Server RSS (MiB): start ${s.rssMb.start}, peak ${s.rssMb.peak}, end ${s.rssMb.end}. Result: ${s.ok ? 'pass' : `**fail**: ${s.failures.join('; ')}`}.`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), {
    duration: 'string', smoke: 'boolean', 'connections-at': 'string', 'connections-beyond': 'string', slowloris: 'string', 'slowloris-seconds': 'string', detect: 'boolean', products: 'string', out: 'string', report: 'boolean',
  });
  const smoke = flags.smoke === true;
  const summary = await runLoad({
    duration: intFlag(flags.duration, smoke ? 5 : 60, 'duration'),
    connectionsAt: intFlag(flags['connections-at'], 16, 'connections-at'),
    connectionsBeyond: intFlag(flags['connections-beyond'], 400, 'connections-beyond'),
    slowloris: intFlag(flags.slowloris, 50, 'slowloris'),
    slowlorisSeconds: intFlag(flags['slowloris-seconds'], smoke ? 5 : 30, 'slowloris-seconds'),
    detect: flags.detect === true,
    products: intFlag(flags.products, 200, 'products'),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const json = JSON.stringify(summary, null, 2);
  if (flags.out) await writeFile(String(flags.out), `${json}\n`);
  process.stdout.write(`${json}\n`);
  if (flags.report) await writeReportSection('load', loadMarkdown(summary));
  process.exitCode = summary.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
