// The groknet command as a user runs it: a child process (CI=true, so no progress bars),
// its exit code and both output streams.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const GROKNET_BIN = fileURLToPath(new URL('../../bin/groknet.js', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [GROKNET_BIN, ...args], { env: { ...process.env, CI: 'true' }, maxBuffer: 32 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
