// Command-line inputs -> the image files a command reads (analyze, detect, pseudolabel; index
// takes the list half only). Inputs are the FILE|DIR operands, then the paths of
// `--files-from LIST` (`-`: standard input), one per line or NUL-separated with -0, as find,
// xargs, tar and rsync users expect: no argv length limit, and a name may hold any byte.
// Directories are walked recursively in sorted order, following symlinks, but a directory is
// never walked twice in one walk, so a symlink loop ends with a warning instead of a hang.
// Names that are not UTF-8 stay bytes (see util/file-names.ts).
import { readdir, readFile, stat } from 'node:fs/promises';
import type { Dirent, Stats } from 'node:fs';
import path from 'node:path';
import { fromFsError, fsReason, GroknetError, toGroknetError } from '../errors.ts';
import { readLimitedFile } from '../image/decode.ts';
import { hasSupportedExtension } from '../image/formats.ts';
import { DEFAULT_IMAGE_LIMITS } from '../image/limits.ts';
import { fromBytes, printablePath, type FsPath } from '../util/file-names.ts';

/** parseArgs options every command that takes files accepts. */
export const INPUT_OPTIONS = {
  'files-from': { type: 'string' },
  null: { type: 'boolean', short: '0', default: false },
} as const;

export const INPUT_USAGE = '[--files-from LIST|- [-0]]';

/**
 * Printed under a usage line: the way in for file names the command line cannot carry
 * (`bytes`: the command reads names that are not UTF-8; index cannot store them).
 */
export function inputHelp(command: string, bytes = true): string {
  const list = '  --files-from LIST|-: more inputs, one path per line (from standard input with -); -0 (--null): NUL-separated, as `find -print0` writes.\n';
  if (!bytes) return list;
  return `${list}  Names that are not UTF-8 lose their bytes on the command line: pass them with \`find ... -print0 | groknet ${command} --files-from - -0\`.\n`;
}

export interface InputValues {
  'files-from'?: string | undefined;
  null?: boolean | undefined;
}

/** One input as named by the user, before directories are walked. */
export interface Input {
  path: FsPath;
  /** From the command line, where Node has already decoded bytes that are not UTF-8 as U+FFFD. */
  argv: boolean;
}

/** One file to read, with how output names it; `error` is reported in its place. */
export interface InputFile {
  /** What to open: text, or the bytes of a name that is not UTF-8. */
  path: FsPath;
  /** The path for output: each byte that is not UTF-8 shown as \xNN. */
  name: string;
  error?: GroknetError;
}

/** True when the command was given something to read (operands or a list). */
export function hasInputs(positionals: readonly string[], values: InputValues): boolean {
  return positionals.length > 0 || values['files-from'] !== undefined;
}

/** The operands, then the entries of --files-from; -0 without a list is a mistake. */
export async function listInputs(positionals: readonly string[], values: InputValues, stdin: NodeJS.ReadableStream = process.stdin): Promise<Input[]> {
  const from = values['files-from'];
  if (values.null && from === undefined) throw new GroknetError('invalid_argument', '-0 (--null) only applies with --files-from');
  if (from === '') throw new GroknetError('invalid_argument', '--files-from needs a file, or - for standard input');
  const inputs: Input[] = positionals.map((p) => ({ path: p, argv: true }));
  if (from === undefined) return inputs;
  const list = await readList(from, stdin);
  for (const entry of splitList(list, values.null === true)) inputs.push({ path: entry, argv: false });
  return inputs;
}

/** The whole list as bytes: names are not decoded, so any byte survives. */
async function readList(from: string, stdin: NodeJS.ReadableStream): Promise<Buffer> {
  if (from === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(from);
  } catch (error) {
    throw new GroknetError('file_not_found', `--files-from ${from} (${fsReason(error)})`, { cause: error });
  }
}

/** One path per line (a trailing \r dropped) or per NUL; empty entries are skipped. */
export function splitList(list: Buffer, nul: boolean): FsPath[] {
  const separator = nul ? 0x00 : 0x0a;
  const out: FsPath[] = [];
  let start = 0;
  while (start < list.length) {
    let end = list.indexOf(separator, start);
    if (end < 0) end = list.length;
    let stop = end;
    if (!nul && stop > start && list[stop - 1] === 0x0d) stop--;
    if (stop > start) out.push(fromBytes(list.subarray(start, stop)));
    start = end + 1;
  }
  return out;
}

export interface ExpandOptions {
  /** Told of each directory skipped (a loop, one walked already): see warnOnStderr. */
  warn: (message: string) => void;
}

/** A warn function writing `groknet COMMAND: message` lines to stderr. */
export function warnOnStderr(command: string): (message: string) => void {
  return (message) => process.stderr.write(`groknet ${command}: ${message}\n`);
}

/** Inputs in the order given; each directory expands to its images, sorted, recursively. */
export async function expandInputs(inputs: ReadonlyArray<Input | FsPath>, options: ExpandOptions): Promise<InputFile[]> {
  const out: InputFile[] = [];
  for (const given of inputs) {
    const input = typeof given === 'string' || Buffer.isBuffer(given) ? { path: given, argv: false } : given;
    const info = await stat(input.path).catch((error: unknown) => error as Error);
    if (info instanceof Error) {
      out.push(lostName(input, info) ?? file(input.path));
      continue;
    }
    // A file, or anything else: reading it says what is wrong (a FIFO, a device).
    if (!info.isDirectory()) out.push(file(input.path));
    else await walk(raw(input.path), info, { onPath: new Set(), walked: new Set(), out, warn: options.warn });
  }
  return out;
}

/** Reads one listed file: its bytes, or the error to print in its place. */
export async function readInputFile(input: InputFile): Promise<Buffer | GroknetError> {
  if (input.error) return input.error;
  try {
    return await readLimitedFile(input.path, DEFAULT_IMAGE_LIMITS.maxInputBytes);
  } catch (error) {
    return toGroknetError(error);
  }
}

function file(p: FsPath, error?: GroknetError): InputFile {
  return { path: p, name: printablePath(p), ...(error ? { error } : {}) };
}

/** A missing operand that held U+FFFD: most likely a name whose bytes the command line lost. */
function lostName(input: Input, error: Error): InputFile | undefined {
  if (!input.argv || typeof input.path !== 'string' || !input.path.includes('\uFFFD')) return undefined;
  if ((error as { code?: unknown }).code !== 'ENOENT') return undefined;
  const detail = `${path.basename(input.path)}: not found, and its name is not valid UTF-8, which the command line cannot pass; list it with --files-from LIST -0`;
  return file(input.path, new GroknetError('file_not_found', detail, { cause: error }));
}

// Walking works on "raw" paths: each byte one latin1 character, so path.join normalises
// exactly as it does for text (only ASCII '/' and '.' matter) and no byte is lost.
const raw = (p: FsPath): string => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p).toString('latin1');
const toFsPath = (r: string): FsPath => fromBytes(Buffer.from(r, 'latin1'));

interface Walk {
  /** Directories (dev:ino) from the walk's root down to the current one: meeting one again is a loop. */
  onPath: Set<string>;
  /** Every directory walked so far: two symlinks to one directory list it once. */
  walked: Set<string>;
  out: InputFile[];
  warn: (message: string) => void;
}

async function walk(dir: string, info: Stats, w: Walk): Promise<void> {
  const key = `${info.dev}:${info.ino}`;
  if (w.onPath.has(key) || w.walked.has(key)) {
    w.warn(`skipping ${printablePath(toFsPath(dir))}: ${w.onPath.has(key) ? 'directory loop' : 'already walked'}`);
    return;
  }
  w.onPath.add(key);
  w.walked.add(key);
  try {
    let dirents: Array<Dirent<Buffer>>;
    try {
      dirents = await readdir(Buffer.from(dir, 'latin1'), { encoding: 'buffer', withFileTypes: true });
    } catch (error) {
      // An unreadable folder is its own error line; the rest of the walk goes on.
      const p = toFsPath(dir);
      w.out.push(file(p, fromFsError(error, path.basename(printablePath(p)))));
      return;
    }
    const entries = dirents.map((dirent) => ({ dirent, shown: printablePath(fromBytes(dirent.name)) }));
    entries.sort((a, b) => a.shown.localeCompare(b.shown));
    for (const { dirent, shown } of entries) {
      const full = path.join(dir, dirent.name.toString('latin1'));
      // A plain file needs no stat (big folders stay fast); a symlink is followed, and a
      // dangling one is skipped like a non-image; a folder's stat gives its identity.
      if (dirent.isFile()) {
        if (hasSupportedExtension(shown)) w.out.push(file(toFsPath(full)));
        continue;
      }
      if (!dirent.isDirectory() && !dirent.isSymbolicLink()) continue;
      const target = await stat(Buffer.from(full, 'latin1')).catch((error: unknown) => error as Error);
      if (target instanceof Error) {
        // A real folder that cannot be looked at (a path over PATH_MAX) is reported, not lost.
        if (dirent.isDirectory()) w.out.push(file(toFsPath(full), fromFsError(target, shown)));
        continue;
      }
      if (target.isDirectory()) await walk(full, target, w);
      else if (target.isFile() && hasSupportedExtension(shown)) w.out.push(file(toFsPath(full)));
    }
  } finally {
    w.onPath.delete(key);
  }
}
