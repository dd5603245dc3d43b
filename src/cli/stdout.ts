// Output to a reader that went away, as in `groknet analyze --json DIR | head -1`. Node
// ignores SIGPIPE, so a write to a closed pipe fails with EPIPE, emitted as an 'error' event
// nobody handles: a 16-line stack trace and status 1, after which the command may go on
// working for nobody. Instead every command stops as `cat` does: at once, silently, with
// status 141 (128 + SIGPIPE's 13: what a shell reports for `cat` killed by a closed pipe,
// so `set -o pipefail` scripts see groknet like any other Unix tool).
//
// Exiting at once is safe for every command. The read-only ones hold nothing to save, and
// a catalog write is one LanceDB commit whose manifest is written last (src/catalog/insert.ts):
// `index` stopped anywhere leaves the catalog at its last complete commit, as after a SIGKILL
// (test/reliability/crash-smoke.test.ts), and its rerun skips what was written as unchanged.

/** 128 + SIGPIPE (13). */
export const EXIT_CLOSED_PIPE = 141;

let guarded = false;

/** Makes a failed write to stdout or stderr end the process: as above for EPIPE, else with one line on stderr and status 1. */
export function guardOutputStreams(): void {
  if (guarded) return;
  guarded = true;
  const onError = (name: 'stdout' | 'stderr') => (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT_CLOSED_PIPE);
    // Anything else (EIO from a terminal that went away...) is said where it can still be read.
    if (name === 'stdout') {
      try {
        process.stderr.write(`groknet: writing to stdout failed: ${error.code ?? error.message}\n`);
      } catch {
        // stderr is gone too: the status says it.
      }
    }
    process.exit(1);
  };
  process.stdout.on('error', onError('stdout'));
  process.stderr.on('error', onError('stderr'));
}
