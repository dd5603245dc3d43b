// Benchmarks write their own section of BENCHMARKS.md (between markers), so each can be
// rerun alone without losing the others' figures.
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const BENCHMARKS_FILE = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.availableParallelism()} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

export async function writeSection(id: string, markdown: string): Promise<void> {
  let text = '';
  try {
    text = await readFile(BENCHMARKS_FILE, 'utf8');
  } catch {
    text = '# Benchmarks\n\nEvery figure below was written by the command named in its section (`npm run bench` runs them all).\n';
  }
  const start = `<!-- bench:${id} -->`;
  const end = `<!-- /bench:${id} -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  text = from >= 0 && to > from ? text.slice(0, from) + block + text.slice(to + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(BENCHMARKS_FILE, text);
}

export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
