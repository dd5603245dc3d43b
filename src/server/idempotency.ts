// Idempotency keys (the `Idempotency-Key` header, as Stripe's API has it): a request sent
// again with the same key and the same content within the key's lifetime gets the first
// request's outcome instead of doing the work again, also while the first is still running
// (the repeat waits for it). The same key with other content is refused (422), since the
// client has mixed two requests up.
//
// Only successful outcomes are kept: a request that failed did nothing (or nothing the
// client could build on), so its retry with the same key runs again.
//
// Kept in memory and in a journal file (one JSON line per key, appended when the work is
// done, read back at start, rewritten atomically without the expired lines), so a restart
// forgets nothing younger than the lifetime. Each server process has its own map: servers
// sharing a data directory do not see each other's keys until they restart.
import { appendFile, readFile } from 'node:fs/promises';
import { z } from 'zod';
import { GroknetError } from '../errors.ts';
import { writeAtomic } from '../model/cache.ts';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** Printable ASCII, no spaces, 1 to 255 characters (a UUID is the usual choice). */
export const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(255, 'at most 255 characters')
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII characters without spaces (a UUID, say)');

interface Settled<R> {
  fingerprint: string;
  at: number;
  value: R;
}

interface Running<R> {
  fingerprint: string;
  at: number;
  running: Promise<R>;
}

type Entry<R> = Settled<R> | Running<R>;

export interface IdempotencyOptions<R> {
  /** The journal file; undefined keeps the keys in memory only. */
  file: string | undefined;
  /** Checks each value read back from the journal (a line that fails is skipped). */
  valueSchema: z.ZodType<R>;
  ttlMs?: number;
  now?: () => number;
  /** Told when the journal cannot be written (the key still holds in memory). */
  onJournalError?: (error: unknown) => void;
}

export interface Outcome<R> {
  value: R;
  /** True when this is the answer of an earlier request with the same key. */
  replayed: boolean;
}

export class IdempotencyKeys<R> {
  private readonly entries = new Map<string, Entry<R>>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private loaded: Promise<void> | undefined;
  /** Journal writes, one after the other (an append never races a rewrite). */
  private writing: Promise<void> = Promise.resolve();
  /** Lines in the journal file, to know when rewriting it without the expired ones pays. */
  private journalLines = 0;
  private lastPrune = 0;

  constructor(private readonly options: IdempotencyOptions<R>) {
    this.ttlMs = options.ttlMs ?? IDEMPOTENCY_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Runs `work` once per key and fingerprint (a hash of what the request asks for). A
   * repeat gets the first outcome; a different fingerprint under the same key is refused.
   */
  async run(key: string, fingerprint: string, work: () => Promise<R>): Promise<Outcome<R>> {
    await this.load();
    // From here to the set below nothing awaits: two requests cannot both miss the key.
    this.prune();
    const found = this.live(key);
    if (found) {
      if (found.fingerprint !== fingerprint) {
        throw new GroknetError('idempotency_mismatch', 'the key was first sent with other fields, photos or query; a repeat must send the same request');
      }
      return { value: 'value' in found ? found.value : await found.running, replayed: true };
    }
    const at = this.now();
    const running = work();
    this.entries.set(key, { fingerprint, at, running });
    let value: R;
    try {
      value = await running;
    } catch (error) {
      // Nothing to replay: a retry with this key runs again.
      this.entries.delete(key);
      throw error;
    }
    this.entries.set(key, { fingerprint, at, value });
    await this.journal({ key, fingerprint, at, value });
    return { value, replayed: false };
  }

  /** The key's entry unless it has expired (pruning runs only once a minute). */
  private live(key: string): Entry<R> | undefined {
    const entry = this.entries.get(key);
    if (entry && 'value' in entry && entry.at < this.now() - this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Reads the journal once (on first use, so building an app stays quick). */
  private load(): Promise<void> {
    this.loaded ??= this.readJournal();
    return this.loaded;
  }

  private async readJournal(): Promise<void> {
    const file = this.options.file;
    if (!file) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.options.onJournalError?.(error);
      return;
    }
    const lineSchema = z.object({ key: z.string(), fingerprint: z.string(), at: z.number(), value: this.options.valueSchema });
    const oldest = this.now() - this.ttlMs;
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    for (const line of lines) {
      // A line cut by a crash, or from another version, is skipped rather than fatal.
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      const record = lineSchema.safeParse(parsed);
      if (record.success && record.data.at >= oldest) {
        this.entries.set(record.data.key, { fingerprint: record.data.fingerprint, at: record.data.at, value: record.data.value as R });
      }
    }
    this.journalLines = lines.length;
    if (this.journalLines > this.entries.size) await this.rewrite();
  }

  /** Drops expired keys, at most once a minute (a scan of all of them). */
  private prune(): void {
    const now = this.now();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    for (const [key, entry] of this.entries) {
      if (entry.at < now - this.ttlMs && 'value' in entry) this.entries.delete(key);
    }
  }

  private journal(record: { key: string; fingerprint: string; at: number; value: R }): Promise<void> {
    const file = this.options.file;
    if (!file) return Promise.resolve();
    this.writing = this.writing.then(async () => {
      try {
        await appendFile(file, `${JSON.stringify(record)}\n`);
        this.journalLines += 1;
        // Rewritten once most of its lines are expired or superseded: it stays near the live size.
        if (this.journalLines > 2 * this.entries.size + 1000) await this.rewrite();
      } catch (error) {
        this.options.onJournalError?.(error);
      }
    });
    return this.writing;
  }

  /** The journal with only the live keys, replaced in one rename. */
  private async rewrite(): Promise<void> {
    const file = this.options.file;
    if (!file) return;
    const lines: string[] = [];
    for (const [key, entry] of this.entries) {
      if ('value' in entry) lines.push(JSON.stringify({ key, fingerprint: entry.fingerprint, at: entry.at, value: entry.value }));
    }
    try {
      await writeAtomic(file, lines.length > 0 ? `${lines.join('\n')}\n` : '');
      this.journalLines = lines.length;
    } catch (error) {
      this.options.onJournalError?.(error);
    }
  }
}
