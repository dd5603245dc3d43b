// How long-running library work (the feature passes of training, evaluation) reports how
// far it got, without knowing whether or how that is shown: the caller starts each phase's
// reporter, so the CLI can pass its terminal bar (src/cli/progress.ts) and a library user
// or a test can pass its own, while the library stays below the CLI.

/** One phase of work in progress: `tick` with the items done so far, `finish` once, at the end or on a stop. */
export interface Progress {
  tick(done: number): void;
  finish(): void;
}

/** Starts reporting a phase of `total` items named `label` (e.g. 'backbone features'). */
export type StartProgress = (label: string, total: number) => Progress;

/** Reports nothing: what library work does when its caller passes no StartProgress. */
export const silentProgress: StartProgress = () => ({
  tick: () => undefined,
  finish: () => undefined,
});
