// Malformed-image fuzzer: real and generated photos, mutated and hand-made hostile files,
// run through the library (decode + ModelAnalyzer on the tiny test model), the CLI
// (`groknet analyze --json` in batches of files) and `POST /v1/analyze` on a real server on
// 127.0.0.1. Every case must be analysed or refused with a typed error (a 4xx over HTTP),
// within a per-image time bound; no SVG reference may be fetched; RSS must stay bounded.
//
//   npm run fuzz -- [--cases 2000] [--seed 1] [--smoke] [--datasets DIR | --no-datasets]
//                   [--timeout-ms 10000] [--surfaces lib,cli,http] [--out summary.json] [--report]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERROR_MESSAGES, GroknetError } from '../../src/errors.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { buildApp } from '../../src/server/app.ts';
import { statusOf } from '../../src/server/http-errors.ts';
import { createTinyModel } from '../../test/helpers/tiny-model.ts';
import {
  CLI, counts, DEFAULT_DATASETS, extensionOf, intFlag, parseFlags, percentile, round, sampleRss, startChild, withTimeout, writeReportSection,
} from './lib/common.ts';
import { buildCorpus, type FuzzCase } from './lib/corpus.ts';
import { rngFrom } from './lib/formats.ts';

export type Surface = 'lib' | 'cli' | 'http';

export interface FuzzOptions {
  cases: number;
  seed: number;
  smoke: boolean;
  datasets: string | undefined;
  photos: number;
  timeoutMs: number;
  surfaces: Surface[];
  cliBatch: number;
  /** Fail (in the summary's `ok`) when the harness process grows more than this. */
  maxRssGrowthMb: number;
  log: (line: string) => void;
}

interface CaseResult {
  id: string;
  kind: string;
  family: string;
  bytes: number;
  expect?: readonly string[];
  decode?: string;
  analyze?: string;
  http?: string;
  httpStatus?: number;
  /** The same bytes in a multipart body cut short (every tenth case). */
  httpEnvelope?: string;
  cli?: string;
  ms: { decode?: number; analyze?: number; http?: number };
}

export interface Defect {
  id: string;
  surface: string;
  problem: string;
}

export interface FuzzSummary {
  ok: boolean;
  command: string;
  seed: number;
  cases: number;
  photos: number;
  datasets: string | null;
  timeoutMs: number;
  surfaces: Surface[];
  byKind: Record<string, number>;
  outcomes: Record<string, Record<string, number>>;
  httpStatus: Record<string, number>;
  maxMs: Record<string, number>;
  p99Ms: Record<string, number>;
  slowest: Array<{ id: string; surface: string; ms: number }>;
  defects: Defect[];
  inconsistencies: Array<{ id: string; outcomes: Record<string, string | undefined> }>;
  /** Cases the full-resolution decoder refuses but the analyzer (which reads only the rows its crop needs) accepts, or the reverse. */
  decodeVsAnalyze: { count: number; byKind: Record<string, number>; examples: Array<{ id: string; decode?: string; analyze?: string }> };
  network: { canaryConnections: number; svgCases: number; svgMaxMs: number };
  rss: { startMb: number; peakMb: number; endMb: number; cliPeakMb: number; serverIsHarness: true };
  elapsedS: number;
}

const KNOWN_CODES = new Set(Object.keys(ERROR_MESSAGES));

/** A typed outcome is 'ok' or a known, non-internal error code; anything else is a defect. */
function outcomeOf(result: { value: unknown } | { error: unknown } | 'timeout'): string {
  if (result === 'timeout') return 'HANG';
  if ('error' in result) {
    const e = result.error;
    return e instanceof GroknetError ? (e.code === 'internal' ? 'INTERNAL' : e.code) : `UNTYPED(${String((e as Error)?.message ?? e).slice(0, 80)})`;
  }
  const v = result.value;
  if (v instanceof GroknetError) return v.code === 'internal' ? 'INTERNAL' : v.code;
  return 'ok';
}

const isTyped = (o: string | undefined): boolean => o !== undefined && (o === 'ok' || KNOWN_CODES.has(o)) && o !== 'internal';

/** Listens on 127.0.0.1 and never answers: counts any attempt to fetch an SVG's references. */
async function canary(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server: Server = createServer(() => undefined);
  server.on('connection', (socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, connections: () => connections, close: () => new Promise((r) => server.close(() => r())) };
}

async function runLibrary(cases: readonly FuzzCase[], results: CaseResult[], analyzer: ModelAnalyzer, options: FuzzOptions): Promise<void> {
  for (const [i, c] of cases.entries()) {
    const r = results[i]!;
    let t = performance.now();
    r.decode = outcomeOf(await withTimeout(decodeImage(c.bytes), options.timeoutMs));
    r.ms.decode = performance.now() - t;
    t = performance.now();
    const analysed = await withTimeout(analyzer.analyzeBuffers([c.bytes]).then((out) => out[0]), options.timeoutMs);
    r.analyze = outcomeOf(analysed);
    r.ms.analyze = performance.now() - t;
    if ((i + 1) % 200 === 0) options.log(`lib ${i + 1}/${cases.length}`);
  }
}

/** The same cases in mixed batches: a bad image must fail alone, and a good one answer as it did alone. */
async function runBatches(cases: readonly FuzzCase[], results: CaseResult[], analyzer: ModelAnalyzer, defects: Defect[], timeoutMs: number): Promise<void> {
  const batch = 16;
  for (let start = 0; start < cases.length; start += batch) {
    const slice = cases.slice(start, start + batch);
    const out = await withTimeout(analyzer.analyzeBuffers(slice.map((c) => c.bytes)), timeoutMs * slice.length);
    if (out === 'timeout' || 'error' in out) {
      defects.push({ id: `batch@${start}`, surface: 'lib-batch', problem: out === 'timeout' ? 'batch hung' : `batch threw: ${String(out.error)}` });
      continue;
    }
    slice.forEach((c, k) => {
      const alone = results[start + k]!.analyze;
      const together = outcomeOf({ value: out.value[k] });
      if (alone !== together && alone !== 'HANG') defects.push({ id: c.id, surface: 'lib-batch', problem: `alone ${alone}, in a batch ${together}` });
    });
  }
}

async function runHttp(cases: readonly FuzzCase[], results: CaseResult[], analyzer: ModelAnalyzer, options: FuzzOptions, dataDir: string): Promise<void> {
  const app = await buildApp({
    analyzer,
    config: { dataDir, apiKey: 'fuzz-key', rateLimitPerMinute: 0, web: false, logLevel: false },
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    for (const [i, c] of cases.entries()) {
      const r = results[i]!;
      // Every third case goes as multipart (with a hostile file name), the rest as a raw body.
      let body: BodyInit;
      const headers: Record<string, string> = {};
      if (i % 3 === 2) {
        const form = new FormData();
        form.append('image', new Blob([new Uint8Array(c.bytes)], { type: 'application/octet-stream' }), `../../${c.id.replace(/[^\w.-]/g, '_')}.${extensionOf(c.family)}`);
        body = form;
      } else {
        body = new Uint8Array(c.bytes);
        headers['content-type'] = i % 3 === 0 ? 'application/octet-stream' : `image/${c.family === 'none' ? 'jpeg' : c.family}`;
      }
      const t = performance.now();
      const answer = await withTimeout(
        fetch(`${address}/v1/analyze`, { method: 'POST', body, headers, signal: AbortSignal.timeout(options.timeoutMs + 1000) }).then(async (res) => ({ status: res.status, text: await res.text() })),
        options.timeoutMs,
      );
      r.ms.http = performance.now() - t;
      if (answer === 'timeout') r.http = 'HANG';
      else if ('error' in answer) r.http = `NETWORK(${String((answer.error as Error).message).slice(0, 60)})`;
      else {
        const { status, text } = answer.value;
        r.httpStatus = status;
        r.http = httpOutcome(status, text);
      }
      if ((i + 1) % 200 === 0) options.log(`http ${i + 1}/${cases.length}`);
    }
    // Broken envelopes: every tenth case as a multipart body cut short at a seeded point.
    const rng = rngFrom(options.seed ^ 0xe4e1);
    for (let i = 0; i < cases.length; i += 10) {
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(cases[i]!.bytes)]), 'photo.bin');
      const request = new Request('http://127.0.0.1/', { method: 'POST', body: form });
      const whole = Buffer.from(await request.arrayBuffer());
      const cut = whole.subarray(0, rng.int(whole.length - 1));
      const answer = await withTimeout(
        fetch(`${address}/v1/analyze`, { method: 'POST', body: new Uint8Array(cut), headers: { 'content-type': request.headers.get('content-type')! }, signal: AbortSignal.timeout(options.timeoutMs + 1000) })
          .then(async (res) => ({ status: res.status, text: await res.text() })),
        options.timeoutMs,
      );
      results[i]!.httpEnvelope = answer === 'timeout' ? 'HANG' : 'error' in answer ? 'NETWORK' : httpOutcome(answer.value.status, answer.value.text);
    }
  } finally {
    await app.close();
  }
}

/** 200 with heads is 'ok'; a 4xx must carry `{ error: { code, message } }` with the code's status and nothing internal. */
function httpOutcome(status: number, text: string): string {
  let body: { heads?: unknown; error?: { code?: string; message?: string } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return `BAD_BODY(${status})`;
  }
  if (status === 200) return body.heads ? 'ok' : 'BAD_BODY(200)';
  if (status >= 500) return `HTTP_${status}(${body.error?.code ?? '?'})`;
  const code = body.error?.code;
  if (!code || !KNOWN_CODES.has(code) || typeof body.error?.message !== 'string') return `BAD_BODY(${status})`;
  if (statusOf(code as keyof typeof ERROR_MESSAGES) !== status) return `WRONG_STATUS(${code}:${status})`;
  if (/\n\s+at |node_modules|\/(tmp|work|home|root)\//.test(text)) return `LEAK(${code})`;
  return code;
}

async function runCli(cases: readonly FuzzCase[], results: CaseResult[], modelDir: string, options: FuzzOptions, dir: string): Promise<{ peakMb: number; maxGapMs: number; defects: Defect[] }> {
  const defects: Defect[] = [];
  const files = cases.map((c, i) => path.join(dir, `${String(i).padStart(5, '0')}.${extensionOf(c.family)}`));
  await mkdir(dir, { recursive: true });
  for (const [i, c] of cases.entries()) await writeFile(files[i]!, c.bytes);
  let peakMb = 0;
  let maxGapMs = 0;
  for (let start = 0; start < cases.length; start += options.cliBatch) {
    const batch = files.slice(start, start + options.cliBatch);
    // --batch 1: results stream out every 4 images, so the gaps between lines bound the time per image.
    const child = startChild(process.execPath, [CLI, 'analyze', '--json', '--batch', '1', '--model', modelDir, ...batch], { cwd: dir, env: { ...process.env, GROKNET_DEBUG: '' } });
    const rss = sampleRss(child.proc.pid!, 100);
    let last = performance.now();
    let first = true;
    child.onLine(() => {
      const now = performance.now();
      // The first line also pays for starting Node, tsx and ONNX Runtime.
      if (!first) maxGapMs = Math.max(maxGapMs, now - last);
      first = false;
      last = now;
    });
    const limit = 60_000 + options.timeoutMs * 4;
    let hung = false;
    const watchdog = setInterval(() => {
      if (performance.now() - last > limit) {
        hung = true;
        child.proc.kill('SIGKILL');
      }
    }, 500);
    const { code, signal } = await child.exited;
    clearInterval(watchdog);
    rss.stop();
    peakMb = Math.max(peakMb, rss.peak);
    const seen = new Map<string, string>();
    for (const line of child.lines) {
      let parsed: { file?: string; heads?: unknown; error?: { code?: string } };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        defects.push({ id: `cli@${start}`, surface: 'cli', problem: `non-JSON stdout line: ${line.slice(0, 100)}` });
        continue;
      }
      const outcome = parsed.heads ? 'ok' : parsed.error?.code && KNOWN_CODES.has(parsed.error.code) ? (parsed.error.code === 'internal' ? 'INTERNAL' : parsed.error.code) : 'BAD_LINE';
      if (parsed.file) seen.set(path.resolve(dir, parsed.file), outcome);
    }
    batch.forEach((file, k) => {
      results[start + k]!.cli = seen.get(file) ?? (hung ? 'HANG' : signal ? `KILLED(${signal})` : 'MISSING');
    });
    if (hung || signal || (code !== 0 && code !== 1)) defects.push({ id: `cli@${start}`, surface: 'cli', problem: `exit ${code ?? signal}${hung ? ' (hung)' : ''}: ${child.stderr().slice(-300)}` });
    if (/\n\s+at /.test(child.stderr())) defects.push({ id: `cli@${start}`, surface: 'cli', problem: 'stack trace on stderr' });
    options.log(`cli ${Math.min(start + options.cliBatch, cases.length)}/${cases.length}`);
  }
  return { peakMb, maxGapMs, defects };
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-fuzz-'));
  const net = await canary();
  try {
    const modelDir = path.join(work, 'model');
    await mkdir(modelDir);
    await createTinyModel(modelDir);
    const analyzer = await ModelAnalyzer.open(modelDir, { batchSize: 16 });
    const corpus = await buildCorpus({ seed: options.seed, cases: options.cases, datasets: options.datasets, photos: options.photos, light: options.smoke, canaryUrl: net.url });
    const cases = corpus.cases;
    options.log(`corpus: ${cases.length} cases (${corpus.bases.length} bases, ${corpus.photos} real photos)`);
    global.gc?.();
    const rss = sampleRss(process.pid, 100);
    const startMb = rss.samples[0]?.mb ?? 0;
    const results: CaseResult[] = cases.map((c) => ({ id: c.id, kind: c.kind, family: c.family, bytes: c.bytes.length, expect: c.expect, ms: {} }));
    const defects: Defect[] = [];
    if (options.surfaces.includes('lib')) {
      await runLibrary(cases, results, analyzer, options);
      await runBatches(cases, results, analyzer, defects, options.timeoutMs);
    }
    if (options.surfaces.includes('http')) await runHttp(cases, results, analyzer, options, path.join(work, 'data'));
    let cli = { peakMb: 0, maxGapMs: 0, defects: [] as Defect[] };
    if (options.surfaces.includes('cli')) cli = await runCli(cases, results, modelDir, options, path.join(work, 'files'));
    await analyzer.close();
    global.gc?.();
    rss.stop();
    const endMb = rss.samples.at(-1)?.mb ?? 0;

    // Judge every case on every surface it went through.
    defects.push(...cli.defects);
    const inconsistencies: FuzzSummary['inconsistencies'] = [];
    for (const r of results) {
      const seen: Record<string, string | undefined> = { decode: r.decode, analyze: r.analyze, http: r.http, cli: r.cli, httpEnvelope: r.httpEnvelope };
      for (const [surface, outcome] of Object.entries(seen)) {
        if (outcome === undefined) continue;
        if (!isTyped(outcome)) defects.push({ id: r.id, surface, problem: outcome });
        else if (r.expect && surface !== 'httpEnvelope' && !r.expect.includes(outcome)) defects.push({ id: r.id, surface, problem: `got ${outcome}, expected ${r.expect.join('|')}` });
      }
      // The analyzer, the API and the CLI run the same code on the same bytes: same answer.
      const same = [r.analyze, r.http, r.cli].filter((o): o is string => o !== undefined);
      if (new Set(same).size > 1) inconsistencies.push({ id: r.id, outcomes: { analyze: r.analyze, http: r.http, cli: r.cli } });
    }
    const split = results.filter((r) => r.decode !== undefined && r.analyze !== undefined && r.decode !== r.analyze);
    const decodeVsAnalyze = { count: split.length, byKind: counts(split.map((r) => `${r.decode}->${r.analyze}`)), examples: split.slice(0, 8).map((r) => ({ id: r.id, decode: r.decode, analyze: r.analyze })) };
    const svg = results.filter((r) => r.kind === 'svg-remote');
    const svgMaxMs = Math.max(0, ...svg.flatMap((r) => [r.ms.decode ?? 0, r.ms.analyze ?? 0, r.ms.http ?? 0]));
    if (net.connections() > 0) defects.push({ id: 'svg-remote', surface: 'network', problem: `${net.connections()} connection(s) to the canary server` });
    const times = (key: 'decode' | 'analyze' | 'http') => results.map((r) => r.ms[key]).filter((v): v is number => v !== undefined);
    const slowest = results
      .flatMap((r) => (['decode', 'analyze', 'http'] as const).map((surface) => ({ id: r.id, surface, ms: round(r.ms[surface] ?? 0) })))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5);
    const maxMs: Record<string, number> = {};
    const p99Ms: Record<string, number> = {};
    for (const key of ['decode', 'analyze', 'http'] as const) {
      maxMs[key] = round(Math.max(0, ...times(key)));
      p99Ms[key] = round(percentile(times(key), 99));
    }
    if (options.surfaces.includes('cli')) {
      maxMs.cliGapPer4Images = round(cli.maxGapMs);
      if (cli.maxGapMs > 4 * options.timeoutMs) defects.push({ id: 'cli', surface: 'cli', problem: `${round(cli.maxGapMs)} ms between two result lines (4 images)` });
    }
    for (const s of slowest) if (s.ms > options.timeoutMs) defects.push({ id: s.id, surface: s.surface, problem: `took ${s.ms} ms` });
    const peakMb = rss.peak;
    if (endMb - startMb > options.maxRssGrowthMb) defects.push({ id: 'rss', surface: 'process', problem: `RSS grew ${round(endMb - startMb)} MiB (start ${round(startMb)}, end ${round(endMb)})` });

    const outcomes: FuzzSummary['outcomes'] = {};
    for (const key of ['decode', 'analyze', 'http', 'cli', 'httpEnvelope'] as const) {
      const values = results.map((r) => r[key]).filter((v): v is string => v !== undefined);
      if (values.length > 0) outcomes[key] = counts(values);
    }
    return {
      ok: defects.length === 0,
      command: `npm run fuzz -- ${process.argv.slice(2).join(' ')}`.trim(),
      seed: options.seed,
      cases: cases.length,
      photos: corpus.photos,
      datasets: options.datasets ?? null,
      timeoutMs: options.timeoutMs,
      surfaces: options.surfaces,
      byKind: counts(results.map((r) => r.kind)),
      outcomes,
      httpStatus: counts(results.filter((r) => r.httpStatus !== undefined).map((r) => String(r.httpStatus))),
      maxMs,
      p99Ms,
      slowest,
      defects,
      inconsistencies,
      decodeVsAnalyze,
      network: { canaryConnections: net.connections(), svgCases: svg.length, svgMaxMs: round(svgMaxMs) },
      rss: { startMb: round(startMb), peakMb: round(peakMb), endMb: round(endMb), cliPeakMb: round(cli.peakMb), serverIsHarness: true },
      elapsedS: round((performance.now() - started) / 1000),
    };
  } finally {
    await net.close();
    await rm(work, { recursive: true, force: true });
  }
}

export function fuzzMarkdown(s: FuzzSummary): string {
  const table = (record: Record<string, number>) => Object.entries(record).map(([k, v]) => `${k} ${v}`).join(', ');
  const lines = [
    `Command: \`${s.command}\` (seed ${s.seed}, per-image bound ${s.timeoutMs} ms), ${s.elapsedS} s.`,
    '',
    `Data: ${s.cases} cases; ${s.photos} real photos from ${s.datasets ? `\`${s.datasets}\`` : '(none)'} plus generated images in every accepted format; kinds: ${table(s.byKind)}.`,
    '',
    '| surface | outcomes | max ms | p99 ms |',
    '|---|---|---|---|',
  ];
  for (const [surface, record] of Object.entries(s.outcomes)) {
    const key = surface === 'cli' ? 'cliGapPer4Images' : surface;
    lines.push(`| ${surface} | ${table(record)} | ${s.maxMs[key] ?? '–'} | ${s.p99Ms[surface] ?? '–'} |`);
  }
  lines.push(
    '',
    `HTTP statuses: ${table(s.httpStatus)}. SVG/markup cases: ${s.network.svgCases}, connections to the canary server: ${s.network.canaryConnections}, slowest ${s.network.svgMaxMs} ms.`,
    '',
    `RSS of the harness (library + HTTP server, MiB): start ${s.rss.startMb}, peak ${s.rss.peakMb}, end ${s.rss.endMb}; CLI processes peak ${s.rss.cliPeakMb}.`,
    '',
    `Slowest: ${s.slowest.map((x) => `${x.id} (${x.surface}) ${x.ms} ms`).join('; ')}.`,
    '',
    `Defects: ${s.defects.length === 0 ? 'none' : s.defects.slice(0, 20).map((d) => `${d.id} [${d.surface}] ${d.problem}`).join('; ')}. Disagreements between the analyzer, the API and the CLI: ${s.inconsistencies.length}. Cases the full-resolution decoder and the analyzer answer differently: ${s.decodeVsAnalyze.count} (${Object.entries(s.decodeVsAnalyze.byKind).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}).`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), {
    cases: 'string', seed: 'string', smoke: 'boolean', datasets: 'string', 'no-datasets': 'boolean', photos: 'string',
    'timeout-ms': 'string', surfaces: 'string', 'cli-batch': 'string', out: 'string', report: 'boolean', 'max-rss-growth-mb': 'string',
  });
  const smoke = flags.smoke === true;
  const datasets = flags['no-datasets'] || smoke ? undefined : ((flags.datasets as string | undefined) ?? (existsSync(DEFAULT_DATASETS) ? DEFAULT_DATASETS : undefined));
  const summary = await runFuzz({
    cases: intFlag(flags.cases, smoke ? 100 : 2000, 'cases'),
    seed: intFlag(flags.seed, 1, 'seed'),
    smoke,
    datasets,
    photos: intFlag(flags.photos, 40, 'photos'),
    timeoutMs: intFlag(flags['timeout-ms'], 10_000, 'timeout-ms'),
    surfaces: ((flags.surfaces as string | undefined) ?? 'lib,cli,http').split(',').map((s) => s.trim()) as Surface[],
    cliBatch: intFlag(flags['cli-batch'], smoke ? 200 : 100, 'cli-batch'),
    maxRssGrowthMb: intFlag(flags['max-rss-growth-mb'], 400, 'max-rss-growth-mb'),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const json = JSON.stringify(summary, null, 2);
  if (flags.out) await writeFile(String(flags.out), `${json}\n`);
  process.stdout.write(`${json}\n`);
  if (flags.report) await writeReportSection('fuzz', fuzzMarkdown(summary));
  process.exitCode = summary.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
