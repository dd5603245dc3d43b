// Shared state of one open catalog: the LanceDB connection, the manifest pointer and the
// currently active table. Every verb (insert.ts, get.ts, ...) takes this context.

import * as lancedb from '@lancedb/lancedb';
import type { Connection, Table } from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GroknetError } from '../errors.ts';
import { withDirLock } from './lock.ts';
import { manifestStamp, readManifest, tableName, writeManifest, type Manifest } from './manifest.ts';
import { ADD_CATEGORY_COLUMN, ADD_GARMENT_COLUMNS, buildSchema, layoutFromSchema, type TableLayout } from './schema.ts';

export interface ActiveTable {
  name: string;
  table: Table;
  layout: TableLayout;
}

export class CatalogContext {
  private active: ActiveTable | undefined;
  private stamp = '';

  private constructor(
    readonly dir: string,
    readonly db: Connection,
    private manifestValue: Manifest,
  ) {}

  static async open(dir: string, embeddingDim: number | undefined): Promise<CatalogContext> {
    const absolute = resolve(dir);
    if (embeddingDim !== undefined && (!Number.isInteger(embeddingDim) || embeddingDim < 1 || embeddingDim > 65536)) {
      throw new GroknetError('invalid_argument', 'embeddingDim must be a positive integer');
    }
    let db: Connection;
    try {
      // readConsistencyInterval 0: every read sees commits made by other processes (queue workers).
      db = await lancedb.connect(absolute, { readConsistencyInterval: 0 });
    } catch (error) {
      throw new GroknetError('store_error', `cannot open catalog at ${dir}`, { cause: error });
    }
    const manifest = await withDirLock(absolute, async () => {
      const existing = await readManifest(absolute);
      if (existing) return existing;
      if (embeddingDim === undefined) {
        throw new GroknetError('invalid_argument', 'a new catalog needs embeddingDim (from the analyzer)');
      }
      const created: Manifest = { format: 1, table: tableName(1), generation: 1, embeddingDim };
      await writeManifest(absolute, created);
      return created;
    });
    if (embeddingDim !== undefined && manifest.embeddingDim !== embeddingDim) {
      throw new GroknetError(
        'model_mismatch',
        `catalog embeddings have ${manifest.embeddingDim} dimensions, the analyzer gives ${embeddingDim}`,
      );
    }
    const ctx = new CatalogContext(absolute, db, manifest);
    ctx.stamp = await manifestStamp(absolute);
    return ctx;
  }

  get manifest(): Manifest {
    return this.manifestValue;
  }

  withWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    return withDirLock(this.dir, fn);
  }

  /** Picks up a swap made by reindex in this or another process. */
  private async refreshManifest(): Promise<void> {
    const stamp = await manifestStamp(this.dir);
    if (stamp === this.stamp) return;
    const manifest = await readManifest(this.dir);
    if (!manifest) throw new GroknetError('store_error', 'catalog.json disappeared');
    this.manifestValue = manifest;
    this.stamp = stamp;
  }

  /** The table readers should use now; undefined until the first product is written. */
  async current(): Promise<ActiveTable | undefined> {
    await this.refreshManifest();
    const name = this.manifestValue.table;
    if (this.active?.name === name) return this.active;
    const table = await this.openIfExists(name);
    if (!table) return undefined;
    this.active?.table.close();
    this.active = { name, table, layout: layoutFromSchema(await table.schema()) };
    return this.active;
  }

  /**
   * Gives a table created before garment columns existed those columns (null: not
   * segmented), so garments can be written to it. Call under the write lock. Other
   * processes that opened the table before see the columns once they reopen it; until
   * then their writes leave the columns as they were.
   */
  addGarmentColumns(active: ActiveTable): Promise<ActiveTable> {
    return this.addMissingColumns(active, (layout) => layout.garments, ADD_GARMENT_COLUMNS, 'garment columns');
  }

  /** The same for the category column (null: no category), before the first category is written. */
  addCategoryColumn(active: ActiveTable): Promise<ActiveTable> {
    return this.addMissingColumns(active, (layout) => layout.category, ADD_CATEGORY_COLUMN, 'category column');
  }

  private async addMissingColumns(
    active: ActiveTable,
    has: (layout: TableLayout) => boolean,
    columns: ReadonlyArray<{ name: string; valueSql: string }>,
    what: string,
  ): Promise<ActiveTable> {
    if (has(active.layout)) return active;
    // Another process may have added them since this one read the layout.
    if (!has(layoutFromSchema(await active.table.schema()))) {
      try {
        await active.table.addColumns([...columns]);
      } catch (error) {
        throw new GroknetError('store_error', `cannot add the ${what} to ${active.name}`, { cause: error });
      }
    }
    const upgraded = { ...active, layout: layoutFromSchema(await active.table.schema()) };
    if (this.active === active) this.active = upgraded;
    return upgraded;
  }

  async openIfExists(name: string): Promise<Table | undefined> {
    if (!(await this.tableExists(name))) return undefined;
    return this.db.openTable(name);
  }

  /**
   * A table counts once its first version is committed. A create killed midway leaves a
   * directory with no version manifest: it holds no data, and LanceDB can neither open it
   * nor create over it, so it is treated as absent (and removed by the next create).
   */
  async tableExists(name: string): Promise<boolean> {
    return (await this.db.tableNames()).includes(name) && (await this.isCommitted(name));
  }

  private tableDir(name: string): string {
    return join(this.dir, `${name}.lance`);
  }

  private async isCommitted(name: string): Promise<boolean> {
    try {
      const versions = await readdir(join(this.tableDir(name), '_versions'));
      return versions.some((file) => file.endsWith('.manifest'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new GroknetError('store_error', `cannot read the versions of table ${name}`, { cause: error });
    }
  }

  /** Removes a table, committed or left half-created (a no-op when there is none). Call under the write lock. */
  async dropIfExists(name: string): Promise<void> {
    try {
      if (await this.isCommitted(name)) await this.db.dropTable(name);
      else await rm(this.tableDir(name), { recursive: true, force: true });
    } catch (error) {
      if (error instanceof GroknetError) throw error;
      throw new GroknetError('store_error', `cannot remove table ${name}`, { cause: error });
    }
  }

  /** Creates (or, after a crash, reuses) the table named by the manifest. Call under the write lock. */
  async createActive(layout: TableLayout): Promise<ActiveTable> {
    const name = this.manifestValue.table;
    const table = await this.createTable(name, buildSchema(layout));
    this.active = { name, table, layout: layoutFromSchema(await table.schema()) };
    return this.active;
  }

  /** Creates the table, or opens it when it exists (a retry after a crash). Call under the write lock. */
  async createTable(name: string, schema: Schema): Promise<Table> {
    // A folder left by a create killed before its first commit blocks LanceDB's own create.
    if (!(await this.isCommitted(name))) await this.dropIfExists(name);
    try {
      return await this.db.createEmptyTable(name, schema, { mode: 'create', existOk: true });
    } catch (error) {
      throw new GroknetError('store_error', `cannot create table ${name}`, { cause: error });
    }
  }

  /** Points readers at a new table (reindex). Keeps the previous one for open readers, drops older ones. */
  async swapTo(name: string, generation: number, embeddingDim: number): Promise<void> {
    const old = this.manifestValue;
    const next: Manifest = { format: 1, table: name, generation, embeddingDim, previousTable: old.table };
    await writeManifest(this.dir, next);
    this.manifestValue = next;
    this.stamp = await manifestStamp(this.dir);
    if (old.previousTable && old.previousTable !== name) {
      await this.db.dropTable(old.previousTable).catch(() => undefined);
    }
  }

  close(): void {
    this.active?.table.close();
    this.active = undefined;
    this.db.close();
  }
}
