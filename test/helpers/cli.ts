// The groknet command as a user runs it: a child process (CI=true, so no progress bars),
// its exit code and both output streams.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const GROKNET_BIN = fileURLToPath(new URL('../../bin/groknet.js', import.meta.url));

// bin/groknet.js runs the compiled dist/ when there is one; GROKNET_SOURCES=1 makes it run
// src/ through tsx, so the tests test the sources, never a dist/ built before them. `npm test`
// sets it; this sets it for a test file run alone (every child of this process inherits it).
// Tests that run the command import GROKNET_BIN from here.
process.env.GROKNET_SOURCES = '1';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs groknet with `args`; `input` is written to its standard input (closed at once otherwise). */
export function runCli(args: readonly string[], options: { input?: string | Buffer } = {}): Promise<CliRun> {
  return run(process.execPath, [GROKNET_BIN, ...args], options.input);
}

/**
 * Runs `script` with /bin/sh, "$0" being node and "$1" bin/groknet.js, for what a Node
 * string cannot pass: argv bytes that are not UTF-8 (printf '\377' makes them).
 */
export function runCliShell(script: string, args: readonly string[] = [], options: { input?: string | Buffer } = {}): Promise<CliRun> {
  return run('/bin/sh', ['-c', script, process.execPath, GROKNET_BIN, ...args], options.input);
}

function run(command: string, args: readonly string[], input: string | Buffer | undefined): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { env: { ...process.env, CI: 'true' }, maxBuffer: 32 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    // A command that exits without reading its input must not fail the test with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

export interface LiveCli {
  child: ChildProcess;
  /** What it has written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once its stdout or stderr (so far) matches `pattern`; rejects if it exits first. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<void>;
  /** Its exit, once its output streams are closed too (so stdout() and stderr() are complete). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The groknet command running, for tests that act on it meanwhile (signals, a reader that goes away). */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): LiveCli {
  return startNode([GROKNET_BIN, ...args], env);
}

/** `node ARGS...` running, watched as startCli watches the command. */
export function startNode(args: readonly string[], env: NodeJS.ProcessEnv = process.env): LiveCli {
  const child = spawn(process.execPath, args, { env: { ...env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const text = { stdout: '', stderr: '' };
  const waiters: Array<() => void> = [];
  for (const name of ['stdout', 'stderr'] as const) {
    child[name].setEncoding('utf8').on('data', (chunk: string) => {
      text[name] += chunk;
      for (const check of [...waiters]) check();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    exited,
    waitFor(stream, pattern) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!pattern.test(text[stream])) return;
          waiters.splice(waiters.indexOf(check), 1);
          resolve();
        };
        waiters.push(check);
        check();
        void exited.then(({ code, signal }) => reject(new Error(`exited (${code ?? signal}) before ${stream} matched ${pattern}; stderr: ${text.stderr.slice(-2000)}`)));
      });
    },
  };
}
