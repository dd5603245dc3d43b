// Ctrl-C (SIGINT) and SIGTERM for commands that can stop cleanly at a safe point (`index`,
// `train`): the first signal aborts an AbortSignal that the work checks between its steps,
// so what is done stays done and the command says how to resume; a second one exits at
// once, for a user who will not wait.
import { constants } from 'node:os';
import { GroknetError } from '../errors.ts';

export interface Interrupt {
  /** Aborted by the first SIGINT or SIGTERM, with an `interrupted` GroknetError as its reason. */
  readonly signal: AbortSignal;
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** 128 + the received signal's number (130 SIGINT, 143 SIGTERM), the status a shell reports for a process the signal killed. */
  readonly exitCode: number;
  /** Removes the handlers: the signals act as by default again. */
  dispose(): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/**
 * Watches SIGINT and SIGTERM for `command` until disposed. `stopping` tells the user what
 * the first signal does (e.g. "no new batch starts").
 */
export function watchInterrupts(command: string, stopping: string): Interrupt {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      process.stderr.write(`groknet ${command}: ${signal} again, exiting at once\n`);
      process.exit(exitCodeOf(signal));
    }
    received = signal;
    process.stderr.write(`groknet ${command}: ${signal}, stopping: ${stopping} (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again exits at once)\n`);
    controller.abort(new GroknetError('interrupted', `by ${signal}`));
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    get exitCode() {
      return received ? exitCodeOf(received) : 0;
    },
    dispose() {
      for (const signal of SIGNALS) process.off(signal, onSignal);
    },
  };
}

/** Whether `error` is the stop an interrupt asked for (the work it stopped throws an `interrupted` GroknetError). */
export function isInterruption(error: unknown): error is GroknetError {
  return error instanceof GroknetError && error.code === 'interrupted';
}
