// Turning an ingest SOURCE into listings: a folder of images (one product per top-level image
// and per folder, at any depth, that holds images), a CSV or a JSONL file of listings; several of them and single image files
// at once with readSources. Bad rows become failures with a reason; they never stop the
// rest of the source from being read.

import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { fromFsError, GroknetError, toGroknetError, zodIssuesText, type ErrorCode } from '../errors.ts';
import { printablePath } from '../util/file-names.ts';
import { parseCsv } from './csv.ts';
import { LISTING_FIELD_NAMES, ListingFieldsSchema, ListingIdSchema, type ListingFields } from './listing.ts';
import { MAX_IMAGES_PER_PRODUCT } from './rows.ts';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff', '.bmp', '.svg']);

/** A listing read from a source: its fields (src/catalog/listing.ts), where it came from, its images. */
export interface Listing extends ListingFields {
  /** How reports name this listing: "shop.csv line 4", "chairs/12.jpg". */
  item: string;
  /** Absolute paths, all inside the source's root folder. */
  images: string[];
}

export interface FailedItem {
  item: string;
  code: ErrorCode;
  message: string;
}

export type SourceEntry = { listing: Listing } | { failure: FailedItem };

export interface Source {
  /** 'image': one image file given directly; 'several': what readSources read from several inputs. */
  kind: 'folder' | 'csv' | 'jsonl' | 'image' | 'several';
  /** The folder paths are checked against (for several inputs, their common ancestor, for reports only). */
  root: string;
  entries: SourceEntry[];
  /** Files that are not images (folder sources): skipped without complaint. */
  ignored: number;
}

export function failureOf(item: string, error: unknown): FailedItem {
  const e = toGroknetError(error);
  return { item, code: e.code, message: e.message };
}

/** Kept for the modules that import it from here: the rule lives with the listing's fields. */
export { ListingIdSchema };

const ListingSchema = ListingFieldsSchema.extend({
  images: z.array(z.string().min(1)).min(1, 'at least one image is required').max(MAX_IMAGES_PER_PRODUCT),
});

type RawListing = z.input<typeof ListingSchema>;

/**
 * Resolves `path` against `root` and refuses anything that ends up outside it, including
 * through `..`, absolute paths or symlinks pointing out of the folder.
 */
export async function resolveInside(root: string, path: string): Promise<string> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw new GroknetError('invalid_argument', `remote images are not supported: ${path.slice(0, 100)}`);
  }
  const absolute = resolve(root, path);
  const outside = (p: string) => {
    const rel = relative(root, p);
    return rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel);
  };
  if (outside(absolute)) throw new GroknetError('path_outside_root', path.slice(0, 200));
  let real: string;
  try {
    real = await realpath(absolute);
  } catch {
    return absolute; // missing files are reported when read, with file_not_found
  }
  if (outside(real)) throw new GroknetError('path_outside_root', `${path.slice(0, 200)} (symlink)`);
  return real;
}

async function toListing(raw: RawListing, root: string): Promise<Listing> {
  const parsed = ListingSchema.safeParse(raw);
  if (!parsed.success) {
    // The first problem only: one short line per bad row in the report.
    throw new GroknetError('invalid_argument', zodIssuesText(parsed.error, 1));
  }
  const data = parsed.data;
  const images: string[] = [];
  for (const image of data.images) images.push(await resolveInside(root, image));
  return { item: '', ...data, images };
}

function parsePrice(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  throw new GroknetError('invalid_argument', `price "${String(value).slice(0, 40)}" is not a number`);
}

function splitImages(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return [];
  // CSV cells hold several images separated by | (or ;).
  return value.split(/[|;]/).map((s) => s.trim()).filter(Boolean);
}

/** Columns (CSV) and keys (JSONL) that are not seller attributes: the listing's fields and its images. */
const KNOWN_FIELDS = new Set<string>([...LISTING_FIELD_NAMES, 'image', 'images']);

/** Shared by CSV and JSONL: known fields by name, everything else becomes a seller attribute. */
function rawFromRecord(record: Record<string, unknown>): RawListing {
  const attributes: Record<string, unknown> = {};
  if (record.attributes && typeof record.attributes === 'object' && !Array.isArray(record.attributes)) {
    Object.assign(attributes, record.attributes);
  }
  for (const [key, value] of Object.entries(record)) {
    if (!KNOWN_FIELDS.has(key) && value !== '' && value !== undefined) attributes[key] = value;
  }
  const id = typeof record.id === 'number' ? String(record.id) : record.id;
  const currency = record.currency === '' || record.currency === undefined ? null : record.currency;
  return {
    id: id as string,
    title: (record.title || id || '') as string,
    description: (record.description ?? '') as string,
    price: parsePrice(record.price),
    currency: typeof currency === 'string' ? currency.trim().toUpperCase() : (currency as null),
    // Anything but text is refused by CategorySchema (listing.ts), naming the field.
    category: (record.category ?? null) as string | null,
    attributes,
    images: [...splitImages(record.image), ...splitImages(record.images)],
  };
}

async function entryFrom(item: string, root: string, read: () => RawListing): Promise<SourceEntry> {
  try {
    const listing = await toListing(read(), root);
    return { listing: { ...listing, item } };
  } catch (error) {
    return { failure: failureOf(item, error) };
  }
}

async function readCsv(file: string, root: string): Promise<SourceEntry[]> {
  const records = parseCsv(await readFile(file, 'utf8'));
  const header = records.shift();
  const name = basename(file);
  if (!header) return [];
  const columns = header.fields.map((f) => f.trim().toLowerCase());
  if (!columns.includes('id') || !(columns.includes('image') || columns.includes('images'))) {
    throw new GroknetError('invalid_argument', `${name}: the header needs an id column and an image or images column`);
  }
  const entries: SourceEntry[] = [];
  for (const record of records) {
    const item = `${name} line ${record.line}`;
    entries.push(
      await entryFrom(item, root, () => {
        if (record.fields.length !== columns.length) {
          throw new GroknetError('invalid_argument', `expected ${columns.length} fields, found ${record.fields.length}`);
        }
        return rawFromRecord(Object.fromEntries(columns.map((c, i) => [c, record.fields[i]])));
      }),
    );
  }
  return entries;
}

async function readJsonl(file: string, root: string): Promise<SourceEntry[]> {
  const lines = (await readFile(file, 'utf8')).split(/\r?\n/);
  const name = basename(file);
  const entries: SourceEntry[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    entries.push(
      await entryFrom(`${name} line ${index + 1}`, root, () => {
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          throw new GroknetError('invalid_argument', 'line is not valid JSON');
        }
        if (!value || typeof value !== 'object' || Array.isArray(value)) {
          throw new GroknetError('invalid_argument', 'line is not a JSON object');
        }
        return rawFromRecord(value as Record<string, unknown>);
      }),
    );
  }
  return entries;
}

const isImageFile = (name: string) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
const humanise = (id: string) => id.replace(/[-_]+/g, ' ').trim();

/** A folder's own text file that is plainly its listing's description: `description.txt`, `Apple_Description.txt`. */
const isDescriptionFile = (name: string) => /(^|[-_ .])description\.txt$/i.test(name);
const MAX_DESCRIPTION = 20_000;

/** A product a folder source gives: one top-level image, or the images a folder holds directly. */
interface Candidate {
  /** How reports name it: the path relative to the source's root. */
  item: string;
  /** The id it takes when no other product of the source has the same one. */
  name: string;
  /** A folder's id when its name is not unique: its path relative to the root, with '/'. */
  path: string;
  folder: boolean;
  /** Absolute paths. */
  images: string[];
  description: string;
}

interface FolderWalk {
  root: string;
  candidates: Candidate[];
  failures: FailedItem[];
  ignored: number;
  /** Real paths of the folders from the root down to the current one: meeting one again is a loop. */
  onPath: Set<string>;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The description file of a folder, when it holds exactly one readable one of a listing's size. */
async function readDescription(files: readonly string[]): Promise<{ text: string; used: string } | undefined> {
  const found = files.filter((f) => isDescriptionFile(basename(f)));
  if (found.length !== 1) return undefined;
  const text = await readFile(found[0]!, 'utf8').then((t) => t.trim(), () => undefined);
  if (!text || text.length > MAX_DESCRIPTION || text.includes('\u0000')) return undefined;
  return { text, used: found[0]! };
}

/**
 * Walks a folder of the source (`dir` is its real path, `rel` its path from the root). At the
 * root each image is a product; below it, a folder that holds images directly is one product
 * of those images, and its sub-folders are walked for products of their own. Symlinks are
 * followed inside the root; one out of it is a failure, one back up the walk is skipped.
 */
async function walkFolder(dir: string, rel: string, w: FolderWalk): Promise<void> {
  let dirents;
  try {
    dirents = (await readdir(dir, { withFileTypes: true })).sort(byName);
  } catch (error) {
    if (rel === '') throw fromFsError(error, dir);
    w.failures.push(failureOf(rel, fromFsError(error, rel)));
    return;
  }
  w.onPath.add(dir);
  try {
    const images: string[] = [];
    const others: string[] = [];
    const folders: Array<{ real: string; rel: string }> = [];
    for (const dirent of dirents) {
      if (dirent.name.startsWith('.')) continue;
      const path = join(dir, dirent.name);
      const childRel = rel === '' ? dirent.name : join(rel, dirent.name);
      let isDir = dirent.isDirectory();
      if (dirent.isSymbolicLink()) isDir = (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
      if (!isDir) {
        if (!isImageFile(dirent.name)) others.push(path);
        else if (rel === '') w.candidates.push({ item: childRel, name: basename(dirent.name, extname(dirent.name)), path: childRel, folder: false, images: [path], description: '' });
        else images.push(path);
        continue;
      }
      let real: string;
      try {
        real = dirent.isSymbolicLink() ? await resolveInside(w.root, childRel) : path;
      } catch (error) {
        w.failures.push(failureOf(childRel, error));
        continue;
      }
      if (w.onPath.has(real)) continue; // a symlink to a folder it is in: walking it would never end
      if (rel === '') await walkFolder(real, childRel, w); // top-level entries keep their order, as before
      else folders.push({ real, rel: childRel });
    }
    let ignored = others.length;
    if (images.length > 0) {
      const description = await readDescription(others);
      if (description) ignored--;
      const path = rel.split(sep).join('/');
      w.candidates.push({ item: rel, name: basename(rel), path, folder: true, images, description: description?.text ?? '' });
    }
    w.ignored += ignored;
    for (const folder of folders) await walkFolder(folder.real, folder.rel, w);
  } finally {
    w.onPath.delete(dir);
  }
}

/**
 * A folder source: each top-level image is a product (id: its name without extension) and so
 * is each folder, at any depth, that holds images directly (its own images; id: its name, or
 * its path from the root where two folders of the source, or a folder and a top-level image,
 * share the name). Folders without images of their own are only walked; empty ones give
 * nothing. A folder's `description.txt` (or `NAME_Description.txt`) is its description.
 */
async function readFolder(root: string): Promise<{ entries: SourceEntry[]; ignored: number }> {
  const w: FolderWalk = { root, candidates: [], failures: [], ignored: 0, onPath: new Set() };
  await walkFolder(root, '', w);
  const names = new Map<string, number>();
  for (const c of w.candidates) names.set(c.name, (names.get(c.name) ?? 0) + 1);
  const entries: SourceEntry[] = w.failures.map((failure) => ({ failure }));
  const seen = new Set<string>();
  for (const c of w.candidates) {
    const id = c.folder && names.get(c.name)! > 1 ? c.path : c.name;
    try {
      if (seen.has(id)) throw new GroknetError('invalid_argument', `another file already gives the id "${id}"`);
      seen.add(id);
      const images = c.images.slice(0, MAX_IMAGES_PER_PRODUCT);
      const raw: RawListing = {
        id,
        title: humanise(c.name),
        description: c.description,
        price: null,
        currency: null,
        category: null,
        attributes: {},
        images: images.map((image) => relative(root, image)),
      };
      entries.push({ listing: { ...(await toListing(raw, root)), item: c.item } });
      if (c.images.length > images.length) {
        const left = c.images.length - images.length;
        entries.push({
          failure: {
            item: c.item,
            code: 'invalid_argument',
            message: `${c.images.length} images in one folder: a product holds at most ${MAX_IMAGES_PER_PRODUCT}, so "${id}" has the first ${MAX_IMAGES_PER_PRODUCT} by name and ${left} are not indexed (put one product's photos per folder)`,
          },
        });
      }
    } catch (error) {
      entries.push({ failure: failureOf(c.item, error) });
    }
  }
  return { entries, ignored: w.ignored };
}

/** A listing file naming an id twice: the later rows are reported instead of silently overwriting. */
function refuseDuplicateIds(entries: SourceEntry[]): SourceEntry[] {
  const firstSeen = new Map<string, string>();
  return entries.map((entry) => {
    if (!('listing' in entry)) return entry;
    const first = firstSeen.get(entry.listing.id);
    if (first === undefined) {
      firstSeen.set(entry.listing.id, entry.listing.item);
      return entry;
    }
    return { failure: { item: entry.listing.item, code: 'invalid_argument', message: `duplicate id "${entry.listing.id}" (first in ${first})` } };
  });
}

export async function readSource(source: string): Promise<Source> {
  let info;
  try {
    info = await stat(source);
  } catch (error) {
    throw new GroknetError('file_not_found', source, { cause: error });
  }
  if (info.isDirectory()) {
    const root = await realpath(source);
    return { kind: 'folder', root, ...(await readFolder(root)) };
  }
  const root = await realpath(dirname(source));
  const extension = extname(source).toLowerCase();
  if (extension === '.csv') return { kind: 'csv', root, entries: refuseDuplicateIds(await readCsv(source, root)), ignored: 0 };
  if (extension === '.jsonl' || extension === '.ndjson') {
    return { kind: 'jsonl', root, entries: refuseDuplicateIds(await readJsonl(source, root)), ignored: 0 };
  }
  throw new GroknetError('invalid_argument', 'SOURCE must be a folder, a .csv or a .jsonl file');
}

const isListingFile = (file: string) => ['.csv', '.jsonl', '.ndjson'].includes(extname(file).toLowerCase());

/** An image file given directly: one product, as a folder's top-level image is, checked against its own folder. */
async function readImageInput(file: string): Promise<Source> {
  const name = basename(file);
  const id = basename(name, extname(name));
  let root: string;
  try {
    root = await realpath(dirname(file));
  } catch (error) {
    return { kind: 'image', root: resolve(dirname(file)), entries: [{ failure: failureOf(file, new GroknetError('file_not_found', file, { cause: error })) }], ignored: 0 };
  }
  const entry = await entryFrom(file, root, () => ({ id, title: humanise(id), description: '', price: null, currency: null, category: null, attributes: {}, images: [name] }));
  return { kind: 'image', root, entries: [entry], ignored: 0 };
}

/** One input of several: a folder, CSV or JSONL as readSource reads it, or an image file. */
async function readInput(input: string | Buffer, several: boolean): Promise<Source | FailedItem> {
  // The catalog keeps image paths as text: a name that is not UTF-8 cannot be stored.
  if (typeof input !== 'string') return { item: printablePath(input), code: 'invalid_argument', message: 'the file name is not valid UTF-8; rename the file to index it' };
  const info = await stat(input).catch(() => undefined);
  if (info?.isDirectory() || isListingFile(input)) {
    const source = await readSource(input);
    if (!several || source.kind !== 'folder') return source;
    // Items of a folder are relative to it: with several inputs, say which folder.
    const named = (item: string) => join(input, item);
    return {
      ...source,
      entries: source.entries.map((e) => ('listing' in e ? { listing: { ...e.listing, item: named(e.listing.item) } } : { failure: { ...e.failure, item: named(e.failure.item) } })),
    };
  }
  if (isImageFile(input)) return readImageInput(input);
  if (!info) throw new GroknetError('file_not_found', input);
  throw new GroknetError('invalid_argument', `${input}: a SOURCE must be a folder, a .csv or .jsonl file, or an image`);
}

/** The deepest folder holding all `paths` (absolute). */
function commonRoot(paths: readonly string[]): string {
  let common = paths[0]?.split(sep) ?? [];
  for (const p of paths.slice(1)) {
    const parts = p.split(sep);
    let i = 0;
    while (i < common.length && i < parts.length && common[i] === parts[i]) i++;
    common = common.slice(0, i);
  }
  return common.join(sep) || sep;
}

/**
 * Several inputs read as one source (`groknet index A B C`): folders, CSV and JSONL files as
 * readSource reads them, and image files, one product each. An id given twice, also by two
 * inputs, is reported at its later listing instead of silently overwriting the first. A
 * missing folder or listing file, or an input of another kind, refuses the whole run before
 * anything is written; a missing image is that product's failure.
 */
export async function readSources(inputs: ReadonlyArray<string | Buffer>): Promise<Source> {
  const several = inputs.length > 1;
  const entries: SourceEntry[] = [];
  const roots: string[] = [];
  let ignored = 0;
  let last: Source | undefined;
  for (const input of inputs) {
    const part = await readInput(input, several);
    if (!('entries' in part)) {
      entries.push({ failure: part });
      continue;
    }
    last = part;
    roots.push(part.root);
    ignored += part.ignored;
    for (const entry of part.entries) entries.push(entry); // no spread: a list can be huge
  }
  if (!several && last) return last;
  return { kind: 'several', root: roots.length > 0 ? commonRoot(roots) : process.cwd(), entries: refuseDuplicateIds(entries), ignored };
}
