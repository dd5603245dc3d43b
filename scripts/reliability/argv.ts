// Long command lines: `analyze`, `detect` and `index` over a glob of N files (default
// 20,000) on one command line, and the same files through `xargs -0 -s 131072` (the
// 128 KiB line xargs builds by default), must each exit normally and give exactly what
// small batches of the same files give. Regression harness for the ONNX Runtime crash
// (RELIABILITY.md defect 8): any process whose command line passed ~30 KB died by SIGSEGV.
//
// The children run without CI in their environment, as in a user's shell (the runtime's
// telemetry, whose command-line regex crashed, stays off by itself under CI=true).
//
//   npm run argv -- [--files 20000] [--batch 200] [--reference N: first N files only] [--commands analyze,detect,index] [--out FILE] [--report]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { openCatalog } from '../../src/catalog/open.ts';
import { createTinyModel } from '../../test/helpers/tiny-model.ts';
import { CLI, intFlag, parseFlags, round, writeReportSection } from './lib/common.ts';
import { rngFrom } from './lib/formats.ts';

type CommandName = 'analyze' | 'detect' | 'index';
const COMMANDS: readonly CommandName[] = ['analyze', 'detect', 'index'];
const XARGS_LINE = 131_072;

interface Run {
  how: 'glob' | 'xargs' | 'batches';
  /** Processes started (xargs and batches start several). */
  processes: number;
  /** Largest command line of one process, in bytes (arguments with their NULs). */
  maxArgBytes: number;
  exit: number | null;
  signal: string | null;
  seconds: number;
  output: string[];
}

interface CommandResult {
  command: CommandName;
  runs: Array<Omit<Run, 'output'>>;
  /** Glob and xargs outputs each equal to the small batches' output. */
  sameAsBatches: { glob: boolean; xargs: boolean };
  outputLines: number;
  ok: boolean;
  failures: string[];
}

export interface ArgvSummary {
  files: number;
  batch: number;
  /** Files the small-batch reference covers (the first ones); the others are only counted. */
  reference: number;
  pathBytes: number;
  results: CommandResult[];
  ok: boolean;
  seconds: number;
}

const userEnv = (): NodeJS.ProcessEnv => {
  const { CI: _ci, ...env } = process.env;
  return env;
};

function argBytes(args: readonly string[]): number {
  return args.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
}

/** Runs one process; collects stdout lines. */
function runOnce(command: string, args: readonly string[], stdin?: Buffer): Promise<{ exit: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: userEnv(), stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.setEncoding('utf8').on('data', (t: string) => {
      err = (err + t).slice(-20_000);
    });
    if (stdin) child.stdin!.end(stdin);
    child.on('close', (exit, signal) => resolve({ exit, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: err }));
  });
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l.length > 0);

async function makeFiles(dir: string, count: number): Promise<string[]> {
  const rng = rngFrom(7);
  const files: string[] = [];
  // Sub-folders of 1,000, names as a camera or a shop export would make them.
  for (let i = 0; i < count; i++) {
    const folder = path.join(dir, `shoot-${String(Math.floor(i / 1000)).padStart(2, '0')}`);
    if (i % 1000 === 0) await mkdir(folder, { recursive: true });
    const rgb = [Math.floor(rng.next() * 256), Math.floor(rng.next() * 256), Math.floor(rng.next() * 256)] as const;
    const file = path.join(folder, `IMG_${String(i).padStart(6, '0')}_listing-photo.png`);
    await writeFile(file, await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer());
    files.push(file);
  }
  return files;
}

/** The command's arguments for a list of files; index writes to its own catalog per run. */
function commandArgs(command: CommandName, model: string, data: string): string[] {
  if (command === 'analyze') return ['analyze', '--json', '--model', model];
  if (command === 'detect') return ['detect', '--json', '--model', model];
  return ['index', '--model', model, '--no-detect', '--data', data];
}

async function run(command: CommandName, how: Run['how'], files: readonly string[], model: string, data: string, batch: number): Promise<Run> {
  const started = performance.now();
  const base = [CLI, ...commandArgs(command, model, data)];
  if (how === 'glob') {
    const r = await runOnce(process.execPath, [...base, ...files]);
    return { how, processes: 1, maxArgBytes: argBytes([process.execPath, ...base, ...files]), exit: r.exit, signal: r.signal, seconds: (performance.now() - started) / 1000, output: lines(r.stdout) };
  }
  if (how === 'xargs') {
    // xargs itself splits the list into command lines of at most 128 KiB; --verbose's
    // trace would be the size of the list, so the number of processes is counted from
    // the output of a shell wrapper instead.
    const list = Buffer.from(files.map((f) => `${f}\0`).join(''));
    const r = await runOnce('xargs', ['-0', '-s', String(XARGS_LINE), 'sh', '-c', 'printf "#xargs %s\\n" "$#" >&2; exec "$0" "$@"', process.execPath, ...base], list);
    // $# counts the command's own arguments after $0 (the CLI and its options) too.
    const fixed = base.length;
    const calls = (r.stderr.match(/^#xargs \d+$/gm) ?? []).map((l) => Number(l.split(' ')[1]) - fixed);
    // Bytes of the largest process's command line: the fixed part plus its share of files.
    let offset = 0;
    let maxArgBytes = 0;
    for (const n of calls) {
      maxArgBytes = Math.max(maxArgBytes, argBytes([process.execPath, ...base, ...files.slice(offset, offset + n)]));
      offset += n;
    }
    return { how, processes: calls.length, maxArgBytes, exit: r.exit, signal: r.signal, seconds: (performance.now() - started) / 1000, output: lines(r.stdout) };
  }
  const output: string[] = [];
  let exit: number | null = 0;
  let signal: string | null = null;
  let maxArgBytes = 0;
  for (let i = 0; i < files.length; i += batch) {
    const args = [...base, ...files.slice(i, i + batch)];
    maxArgBytes = Math.max(maxArgBytes, argBytes([process.execPath, ...args]));
    const r = await runOnce(process.execPath, args);
    if (r.exit !== 0) exit = r.exit;
    signal ??= r.signal;
    output.push(...lines(r.stdout));
  }
  return { how, processes: Math.ceil(files.length / batch), maxArgBytes, exit, signal, seconds: (performance.now() - started) / 1000, output };
}

// ONNX Runtime's sums depend on how many images share a batch (its kernels split work by
// batch size), so a score or an embedding value can move in its last float32 bits when
// the same image is run among other neighbours: numbers match within 1e-5, text exactly.
const TOLERANCE = 1e-5;

export function sameResult(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= TOLERANCE;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameResult(v, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return sameResult(ka, kb) && ka.every((k) => sameResult((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/** What an index run left: every product with its images' labels and codes, in id order. */
async function catalogDump(data: string): Promise<string[]> {
  const catalog = await openCatalog(data, { embeddingDim: 16 });
  try {
    const out: string[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await catalog.listProducts({ offset, limit: 1000 });
      for (const p of page) out.push(JSON.stringify([p.id, p.title, p.images.map((im) => [path.basename(im.path), im.contentHash, im.heads, im.code])]));
      if (page.length < 1000) break;
    }
    return out;
  } finally {
    await catalog.close();
  }
}

async function checkCommand(command: CommandName, files: readonly string[], model: string, work: string, batch: number, reference: number, log: (line: string) => void): Promise<CommandResult> {
  const failures: string[] = [];
  const runs: Run[] = [];
  for (const how of ['batches', 'glob', 'xargs'] as const) {
    const data = path.join(work, `catalog-${command}-${how}`);
    const r = await run(command, how, how === 'batches' ? files.slice(0, reference) : files, model, data, batch);
    if (command === 'index') r.output = await catalogDump(data);
    log(`${command} ${how}: exit ${r.exit ?? r.signal}, ${r.processes} process(es), largest command line ${r.maxArgBytes} bytes, ${round(r.seconds)} s, ${r.output.length} lines`);
    if (r.signal) failures.push(`${command} (${how}) was killed by ${r.signal}`);
    else if (r.exit !== 0) failures.push(`${command} (${how}) exited ${r.exit}`);
    runs.push(r);
  }
  const [batches, glob, xargs] = runs as [Run, Run, Run];
  const expected = Math.min(reference, files.length);
  if (batches.output.length !== expected) failures.push(`${command}: small batches gave ${batches.output.length} results for ${expected} files`);
  for (const r of [glob, xargs]) if (r.output.length !== files.length) failures.push(`${command} (${r.how}) gave ${r.output.length} results for ${files.length} files`);
  // Index dumps are in id order: compare the products the reference run wrote.
  const reference_ = command === 'index' ? (r: Run) => r.output.filter((l) => batchIds.has(JSON.parse(l)[0] as string)) : (r: Run) => r.output.slice(0, expected);
  const batchIds = new Set(batches.output.map((l) => JSON.parse(l)[0] as string));
  const same = (r: Run) => {
    const mine = reference_(r);
    return mine.length === batches.output.length && mine.every((l, i) => sameResult(JSON.parse(l), JSON.parse(batches.output[i]!)));
  };
  const sameAsBatches = { glob: same(glob), xargs: same(xargs) };
  if (!sameAsBatches.glob) failures.push(`${command}: the glob's output differs from the small batches'`);
  if (!sameAsBatches.xargs) failures.push(`${command}: the xargs output differs from the small batches'`);
  if (glob.maxArgBytes < 1_000_000 && files.length >= 20_000) failures.push(`${command}: the glob's command line was only ${glob.maxArgBytes} bytes`);
  if (xargs.processes < 2 && files.length >= 20_000) failures.push(`${command}: xargs started ${xargs.processes} process(es)`);
  return { command, runs: runs.map(({ output: _o, ...rest }) => rest), sameAsBatches, outputLines: batches.output.length, ok: failures.length === 0, failures };
}

export async function runArgvHarness(options: { files: number; batch: number; reference?: number; commands: readonly CommandName[]; log: (line: string) => void }): Promise<ArgvSummary> {
  const started = performance.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-argv-'));
  try {
    const { dir: model } = await createTinyModel(await mkdtemp(path.join(work, 'model-')));
    const files = await makeFiles(path.join(work, 'photos'), options.files);
    options.log(`${files.length} files written under ${work}`);
    const results: CommandResult[] = [];
    for (const command of options.commands) results.push(await checkCommand(command, files, model, work, options.batch, options.reference ?? files.length, options.log));
    return {
      files: files.length,
      batch: options.batch,
      reference: Math.min(options.reference ?? files.length, files.length),
      pathBytes: argBytes(files),
      results,
      ok: results.every((r) => r.ok),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export function argvMarkdown(s: ArgvSummary, command: string): string {
  const rows = s.results.flatMap((r) =>
    r.runs.map((run) => `| ${r.command} | ${run.how} | ${run.processes} | ${run.maxArgBytes.toLocaleString('en')} | ${run.signal ?? run.exit} | ${round(run.seconds)} | ${run.how === 'batches' ? '(reference)' : r.sameAsBatches[run.how] ? 'yes' : '**no**'} |`),
  );
  return [
    `Command: \`${command}\` (tiny model; ${s.files.toLocaleString('en')} files of 40x40 PNG, ${s.pathBytes.toLocaleString('en')} bytes of paths; reference: the first ${s.reference.toLocaleString('en')} files in batches of ${s.batch}), ${round(s.seconds)} s.`,
    '',
    '| command | how | processes | largest command line (bytes) | exit | seconds | same output as the batches (numbers within 1e-5) |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Result: ${s.ok ? 'pass' : 'FAIL'}${s.results.flatMap((r) => r.failures).map((f) => `; ${f}`).join('')}.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flags = parseFlags(argv, { files: 'string', batch: 'string', reference: 'string', commands: 'string', out: 'string', report: 'boolean' });
  const commands = String(flags.commands ?? COMMANDS.join(',')).split(',') as CommandName[];
  for (const c of commands) if (!COMMANDS.includes(c)) throw new Error(`--commands: unknown command ${c}`);
  const summary = await runArgvHarness({
    files: intFlag(flags.files, 20_000, 'files'),
    batch: intFlag(flags.batch, 200, 'batch'),
    ...(flags.reference !== undefined ? { reference: intFlag(flags.reference, 0, 'reference') } : {}),
    commands,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const text = JSON.stringify(summary, null, 2);
  if (typeof flags.out === 'string') await writeFile(flags.out, text);
  process.stdout.write(`${text}\n`);
  if (flags.report) await writeReportSection('argv', argvMarkdown(summary, `npm run argv -- ${argv.filter((a) => a !== '--report').join(' ')}`.trim()));
  process.exitCode = summary.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
