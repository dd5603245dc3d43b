// What the model suggested for a published listing and what the seller kept: one row per
// suggestion (product, photo, head, label) in a LanceDB table `feedback` beside the image
// tables, as the seen-together links are kept (cooccurrence.ts). A table of its own because
//  - the listing's content hash says whether the seller's listing changed; feedback is not
//    part of the listing, so it stays out of the product rows and out of that hash;
//  - catalogs from before it open as they are: no table means no feedback yet;
//  - reindex re-analyses the photos into a new image table; what the seller was shown then
//    does not change, so the table is left alone.
// Written right after the product's own commit: a process killed in between leaves the
// product published without its feedback, never feedback for a product that is not there.
// Republishing a product replaces its rows in one merge; deleting it removes them.

import { createHash } from 'node:crypto';
import type { Table } from '@lancedb/lancedb';
import { Field, Float64, Int32, Int64, Schema, Utf8 } from 'apache-arrow';
import { GroknetError, isGroknetError } from '../errors.ts';
import type { CatalogContext } from './context.ts';
import { validateProductId } from './rows.ts';
import { sqlString } from './sql.ts';
import { FEEDBACK_OUTCOMES, type FeedbackCount, type FeedbackOutcome, type ImageFeedback } from './feedback-types.ts';

export const FEEDBACK_TABLE = 'feedback';

const F = {
  key: 'key',
  productId: 'product_id',
  image: 'image_index',
  modelVersion: 'model_version',
  head: 'head',
  label: 'label',
  score: 'score',
  field: 'field',
  outcome: 'outcome',
  final: 'final',
  writtenAt: 'written_at',
} as const;

const SCHEMA = new Schema([
  new Field(F.key, new Utf8(), false),
  new Field(F.productId, new Utf8(), false),
  new Field(F.image, new Int32(), false),
  new Field(F.modelVersion, new Utf8(), false),
  new Field(F.head, new Utf8(), false),
  new Field(F.label, new Utf8(), false),
  new Field(F.score, new Float64(), false),
  new Field(F.field, new Utf8(), false),
  new Field(F.outcome, new Utf8(), false),
  new Field(F.final, new Utf8(), true),
  new Field(F.writtenAt, new Int64(), false),
]);

type FeedbackRow = Record<string, unknown>;

function rowKey(productId: string, image: number, head: string, label: string): string {
  // Ids and labels may hold any printable character: hashed rather than joined with a separator.
  return createHash('sha256').update(JSON.stringify([productId, image, head, label])).digest('hex');
}

function isOutcome(value: unknown): value is FeedbackOutcome {
  return typeof value === 'string' && (FEEDBACK_OUTCOMES as readonly string[]).includes(value);
}

export class FeedbackStore {
  private table: Table | undefined;

  constructor(private readonly ctx: CatalogContext) {}

  /** Replaces what is recorded for `productId` with `images` (one commit); none: forgets it. */
  async record(productId: string, images: readonly ImageFeedback[]): Promise<void> {
    validateProductId(productId);
    const now = BigInt(Date.now());
    const rows = new Map<string, FeedbackRow>();
    for (const { image, modelVersion, suggestions } of images) {
      if (!Number.isInteger(image) || image < 0) throw new GroknetError('invalid_argument', `feedback image index must be a whole number >= 0, got ${image}`);
      for (const s of suggestions) {
        if (!isOutcome(s.outcome)) throw new GroknetError('invalid_argument', `unknown feedback outcome ${String(s.outcome)}`);
        const key = rowKey(productId, image, s.head, s.label);
        rows.set(key, {
          [F.key]: key,
          [F.productId]: productId,
          [F.image]: image,
          [F.modelVersion]: modelVersion,
          [F.head]: s.head,
          [F.label]: s.label,
          [F.score]: s.score,
          [F.field]: s.field,
          [F.outcome]: s.outcome,
          [F.final]: s.final,
          [F.writtenAt]: now,
        });
      }
    }
    await this.ctx.withWriteLock(async () => {
      const table = await this.open(rows.size > 0);
      if (!table) return; // nothing recorded before and nothing to record now
      try {
        if (rows.size === 0) {
          await table.delete(`${F.productId} = ${sqlString(productId)}`);
          return;
        }
        await table
          .mergeInsert(F.key)
          .whenMatchedUpdateAll()
          .whenNotMatchedInsertAll()
          .whenNotMatchedBySourceDelete({ where: `${F.productId} = ${sqlString(productId)}` })
          .execute([...rows.values()]);
      } catch (error) {
        if (isGroknetError(error)) throw error;
        throw new GroknetError('store_error', `recording the suggestion feedback of ${productId} failed`, { cause: error });
      }
    });
  }

  /** What was recorded for a product, by photo then head; [] when nothing was. */
  async of(productId: string): Promise<ImageFeedback[]> {
    validateProductId(productId);
    const rows = await this.read(`${F.productId} = ${sqlString(productId)}`, [F.image, F.modelVersion, F.head, F.label, F.score, F.field, F.outcome, F.final]);
    const byImage = new Map<number, ImageFeedback>();
    for (const row of rows) {
      const image = Number(row[F.image]);
      const outcome = row[F.outcome];
      if (!isOutcome(outcome)) continue; // written by a newer groknet: not ours to interpret
      const entry = byImage.get(image) ?? { image, modelVersion: String(row[F.modelVersion]), suggestions: [] };
      const final = row[F.final];
      entry.suggestions.push({ head: String(row[F.head]), label: String(row[F.label]), score: Number(row[F.score]), field: String(row[F.field]), outcome, final: typeof final === 'string' ? final : null });
      byImage.set(image, entry);
    }
    const images = [...byImage.values()].sort((a, b) => a.image - b.image);
    for (const entry of images) entry.suggestions.sort((a, b) => compare(a.head, b.head) || compare(a.label, b.label));
    return images;
  }

  /** Outcome counts over the whole catalog, most frequent first. */
  async counts(): Promise<FeedbackCount[]> {
    const rows = await this.read(undefined, [F.head, F.label, F.outcome, F.final]);
    const counts = new Map<string, FeedbackCount>();
    for (const row of rows) {
      const outcome = row[F.outcome];
      if (!isOutcome(outcome)) continue;
      const head = String(row[F.head]);
      const label = String(row[F.label]);
      const final = outcome === 'corrected' && typeof row[F.final] === 'string' ? (row[F.final] as string) : null;
      const key = JSON.stringify([head, label, outcome, final]);
      const entry = counts.get(key) ?? { head, label, outcome, final, count: 0 };
      entry.count++;
      counts.set(key, entry);
    }
    return [...counts.values()].sort(
      (a, b) => compare(a.head, b.head) || compare(a.label, b.label) || b.count - a.count || compare(a.outcome, b.outcome) || compare(a.final ?? '', b.final ?? ''),
    );
  }

  /** Forgets a product's feedback (its delete). */
  async remove(productId: string): Promise<void> {
    await this.record(productId, []);
  }

  close(): void {
    this.table?.close();
    this.table = undefined;
  }

  private async read(where: string | undefined, columns: string[]): Promise<FeedbackRow[]> {
    const table = await this.open(false);
    if (!table) return [];
    try {
      const query = table.query().select(columns);
      return await (where === undefined ? query : query.where(where)).toArray();
    } catch (error) {
      throw new GroknetError('store_error', 'reading the suggestion feedback failed', { cause: error });
    }
  }

  /** The table, created on first write; undefined when it does not exist and `create` is false. */
  private async open(create: boolean): Promise<Table | undefined> {
    if (this.table) return this.table;
    try {
      this.table = create ? await this.ctx.createTable(FEEDBACK_TABLE, SCHEMA) : await this.ctx.openIfExists(FEEDBACK_TABLE);
    } catch (error) {
      throw new GroknetError('store_error', `cannot open the ${FEEDBACK_TABLE} table`, { cause: error });
    }
    return this.table;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
