// Shared by the reliability harnesses: argument parsing, memory sampling, child processes
// with line-by-line output, time bounds, and writing figures into RELIABILITY.md.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = path.join(REPO, 'bin', 'groknet.js');
// The harnesses judge this checkout's code: bin/groknet.js runs src/ (through tsx) rather than
// a dist/ that may be older. Children inherit it.
process.env.GROKNET_SOURCES = '1';
export const RELIABILITY_MD = path.join(REPO, 'RELIABILITY.md');
export const DEFAULT_DATASETS = path.resolve(REPO, '..', 'shared', 'datasets');

/** `--name value` and `--flag` options; unknown options are an error, so typos never pass silently. */
export function parseFlags(argv: readonly string[], spec: Record<string, 'string' | 'boolean'>): Record<string, string | boolean | undefined> {
  const out: Record<string, string | boolean | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    const [name, inline] = arg.startsWith('--') ? arg.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
    if (!name || !(name in spec)) throw new Error(`unknown argument ${arg}; known: ${Object.keys(spec).map((k) => `--${k}`).join(' ')}`);
    if (spec[name] === 'boolean') out[name] = inline === undefined ? true : inline !== 'false';
    else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      out[name] = value;
    }
  }
  return out;
}

export function intFlag(value: string | boolean | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`);
  return n;
}

/** Resident memory of a process in MiB, from /proc (undefined once it has gone). */
export function rssOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface RssSeries {
  samples: Array<{ t: number; mb: number }>;
  stop(): void;
  readonly peak: number;
}

/** Samples a process's RSS every `everyMs` until stopped. */
export function sampleRss(pid: number, everyMs = 200): RssSeries {
  const started = performance.now();
  const samples: Array<{ t: number; mb: number }> = [];
  let peak = 0;
  const take = () => {
    const mb = rssOf(pid);
    if (mb === undefined) return;
    peak = Math.max(peak, mb);
    samples.push({ t: (performance.now() - started) / 1000, mb });
  };
  take();
  const timer = setInterval(take, everyMs);
  timer.unref();
  return {
    samples,
    stop: () => {
      clearInterval(timer);
      take();
    },
    get peak() {
      return peak;
    },
  };
}

export const round = (v: number, digits = 1): number => Math.round(v * 10 ** digits) / 10 ** digits;

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Resolves with the value, or with 'timeout' after `ms` (the work itself is not cancelled). */
export async function withTimeout<T>(work: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([work.then((value) => ({ value }), (error: unknown) => ({ error })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Child {
  proc: ChildProcess;
  lines: string[];
  stderr: () => string;
  /** Resolves when a stdout line matches; rejects if the process exits first or after `ms`. */
  waitFor(pattern: RegExp, ms: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  onLine(fn: (line: string) => void): void;
}

/** Spawns a process and collects its stdout by line (stderr kept, capped at 64 KiB). */
export function startChild(command: string, args: readonly string[], options: SpawnOptions = {}): Child {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const lines: string[] = [];
  const listeners: Array<(line: string) => void> = [];
  let err = '';
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (text: string) => {
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      lines.push(line);
      for (const fn of listeners) fn(line);
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (text: string) => {
    err = (err + text).slice(-65536);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
    proc.on('error', () => resolve({ code: -1, signal: null }));
  });
  return {
    proc,
    lines,
    stderr: () => err,
    exited,
    onLine: (fn) => listeners.push(fn),
    waitFor(pattern, ms) {
      const found = lines.find((l) => pattern.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${pattern}; stderr: ${err.slice(-2000)}`)), ms);
        listeners.push((line) => {
          if (pattern.test(line)) {
            clearTimeout(timer);
            resolve(line);
          }
        });
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`exited (${code ?? signal}) before ${pattern}; stderr: ${err.slice(-2000)}`));
        });
      });
    },
  };
}

/** Ends a child we started: SIGTERM, then SIGKILL if it lingers. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in RELIABILITY.md. */
export async function writeReportSection(name: string, markdown: string, file = RELIABILITY_MD): Promise<void> {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  let text = await readFile(file, 'utf8').catch(() => '');
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(file, text);
}

/** Node's own child for the repo's TypeScript: `node --import tsx FILE`. */
export function tsxArgs(file: string, args: readonly string[] = []): string[] {
  return ['--import', 'tsx', file, ...args];
}

export function counts<T extends string>(values: readonly T[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** "jpeg" -> "jpg" etc.: what a file of this family is called on disk. */
export function extensionOf(family: string): string {
  return ({ jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tif', heif: 'avif', svg: 'svg', html: 'html', pdf: 'pdf', zip: 'zip' } as Record<string, string>)[family] ?? 'bin';
}

export function mb(bytes: number): number {
  return round(bytes / 1024 / 1024);
}
