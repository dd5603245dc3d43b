// An optional model the server holds (the product detector, the clothing segmenter): handed
// over ready, or opened on first use because its first conversion takes a while. An open
// that fails is forgotten, so a later request tries again; its failure is remembered for
// /readyz until an open succeeds.
import { GroknetError, toGroknetError } from '../errors.ts';

/** A resource, or how to open it when it is first needed. */
export type Source<T> = T | (() => Promise<T>);

/** What /readyz says about an optional model: open, not opened yet, or its last open failed. */
export type OnDemandState = 'ok' | 'not_loaded' | 'failing';

export class OnDemand<T extends { close(): Promise<void> }> {
  private opening: Promise<T> | undefined;
  private lastOpenFailed = false;

  /**
   * @param what names the resource in the 503 a failed open answers ("the product detector").
   * @param wrap applied once to what was opened or handed over (a run-one-at-a-time view).
   */
  constructor(
    private readonly source: Source<T>,
    private readonly what: string,
    private readonly wrap: (resource: T) => T = (resource) => resource,
  ) {}

  get state(): OnDemandState {
    if (typeof this.source !== 'function') return 'ok';
    if (this.lastOpenFailed) return 'failing';
    return this.opening ? 'ok' : 'not_loaded';
  }

  get(): Promise<T> {
    if (typeof this.source !== 'function') {
      this.opening ??= Promise.resolve(this.wrap(this.source));
      return this.opening;
    }
    const open = this.source as () => Promise<T>;
    this.opening ??= open().then(
      (resource) => {
        this.lastOpenFailed = false;
        return this.wrap(resource);
      },
      (error: unknown) => {
        this.opening = undefined;
        this.lastOpenFailed = true;
        const e = toGroknetError(error);
        throw new GroknetError('unavailable', `${this.what} could not be opened (${e.code})`, { cause: error });
      },
    );
    return this.opening;
  }

  /** Closes the resource if this object opened it; one handed over ready belongs to its owner. */
  async close(): Promise<void> {
    if (typeof this.source !== 'function' || !this.opening) return;
    const resource = await this.opening.catch(() => undefined);
    await resource?.close();
  }
}
