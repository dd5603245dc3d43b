// `groknet analyze [--model DIR] [--json] [--batch N] [--provider P] FILE|DIR...`
// One JSON line per image in input order (directories are walked recursively), or a
// readable table; a file that fails prints its error line and the others go on.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { toGroknetError, type GroknetError } from '../../errors.ts';
import { readLimitedFile } from '../../image/decode.ts';
import { hasSupportedExtension } from '../../image/formats.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../image/limits.ts';
import type { ExecutionProvider } from '../../model/backend/onnxruntime.ts';
import type { Analysis } from '../../model/types.ts';
import { ModelAnalyzer, MAX_BATCH_SIZE } from '../../pipelines/analyze.ts';
import { intOption, parse } from '../args.ts';
import { createProgress } from '../progress.ts';

export async function analyzeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    model: { type: 'string' },
    json: { type: 'boolean', default: false },
    batch: { type: 'string' },
    provider: { type: 'string' },
  });
  if (positionals.length === 0) {
    process.stderr.write('usage: groknet analyze [--model DIR] [--json] [--batch N] [--provider cpu|cuda] FILE|DIR...\n');
    return 2;
  }
  const batchSize = intOption(values.batch, 'batch', 1, MAX_BATCH_SIZE, 16);
  const files = await expandInputs(positionals);
  const analyzer = await ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined, {
    batchSize,
    provider: (values.provider ?? 'cpu') as ExecutionProvider,
  });
  const progress = createProgress('analyze', files.length);
  let failures = 0;
  try {
    // Work in chunks so output streams out and memory stays bounded on big folders.
    const chunk = batchSize * 4;
    for (let start = 0; start < files.length; start += chunk) {
      const slice = files.slice(start, start + chunk);
      const read = await Promise.all(slice.map((f) => readInput(f)));
      const buffers = read.filter((r): r is Buffer => Buffer.isBuffer(r));
      const analysed = await analyzer.analyzeBuffers(buffers);
      let next = 0;
      for (const [i, file] of slice.entries()) {
        const r = read[i]!;
        const result = Buffer.isBuffer(r) ? analysed[next++]! : r;
        if (!('heads' in result)) failures++;
        process.stdout.write(values.json ? `${JSON.stringify(jsonLine(file, result))}\n` : textLines(file, result));
      }
      progress.tick(start + slice.length);
    }
  } finally {
    progress.finish();
    await analyzer.close();
  }
  return failures > 0 ? 1 : 0;
}

async function readInput(file: string | { file: string; error: GroknetError }): Promise<Buffer | GroknetError> {
  if (typeof file !== 'string') return file.error;
  try {
    return await readLimitedFile(file, DEFAULT_IMAGE_LIMITS.maxInputBytes);
  } catch (error) {
    return toGroknetError(error);
  }
}

/** Files stay in the order given; directories expand to their images, sorted, recursively. */
export async function expandInputs(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => undefined);
    if (info?.isDirectory()) out.push(...(await walk(input)));
    else out.push(input);
  }
  return out;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const out: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile() && hasSupportedExtension(entry.name)) out.push(full);
  }
  return out;
}

export function jsonLine(file: string, result: Analysis | GroknetError): Record<string, unknown> {
  if (!('heads' in result)) return { file, error: { code: result.code, message: result.message } };
  return {
    file,
    heads: result.heads,
    embedding: Array.from(result.embedding, (v) => Math.round(v * 1e6) / 1e6),
    code: result.code,
  };
}

function textLines(file: string, result: Analysis | GroknetError): string {
  if (!('heads' in result)) return `${file}\n  error ${result.code}: ${result.message}\n`;
  const lines = [file];
  for (const [name, head] of Object.entries(result.heads)) {
    const shown = head.kind === 'single' ? head.top.slice(0, 3) : head.labels.slice(0, 5);
    const text = shown.map((l) => `${l.label} ${l.score.toFixed(2)}`).join(', ');
    lines.push(`  ${name.padEnd(16)} ${text}${head.kind === 'single' && head.abstain ? '  (unsure)' : ''}`);
  }
  lines.push(`  ${'code'.padEnd(16)} ${result.code.slice(0, 16)}…`);
  return `${lines.join('\n')}\n`;
}
