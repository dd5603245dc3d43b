// `groknet analyze [--model DIR] [--json] [--batch N] [--provider P] [--files-from LIST [-0]] FILE|DIR...`
// One JSON line per image in input order (directories are walked recursively, see
// ../inputs.ts), or a readable table; a file that fails prints its error line and the
// others go on.
import path from 'node:path';
import type { GroknetError } from '../../errors.ts';
import type { ExecutionProvider } from '../../model/backend/onnxruntime.ts';
import type { Analysis } from '../../model/types.ts';
import { ModelAnalyzer, MAX_BATCH_SIZE } from '../../pipelines/analyze.ts';
import { intOption, parse } from '../args.ts';
import { expandInputs, hasInputs, inputHelp, INPUT_OPTIONS, INPUT_USAGE, listInputs, readInputFile, warnOnStderr } from '../inputs.ts';
import { createProgress } from '../progress.ts';

export async function analyzeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    model: { type: 'string' },
    json: { type: 'boolean', default: false },
    batch: { type: 'string' },
    provider: { type: 'string' },
    ...INPUT_OPTIONS,
  });
  if (!hasInputs(positionals, values)) {
    process.stderr.write(`usage: groknet analyze [--model DIR] [--json] [--batch N] [--provider cpu|cuda] ${INPUT_USAGE} FILE|DIR...\n${inputHelp('analyze')}`);
    return 2;
  }
  const batchSize = intOption(values.batch, 'batch', 1, MAX_BATCH_SIZE, 16);
  const files = await expandInputs(await listInputs(positionals, values), { warn: warnOnStderr('analyze') });
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
      const read = await Promise.all(slice.map((f) => readInputFile(f)));
      const buffers = read.filter((r): r is Buffer => Buffer.isBuffer(r));
      const analysed = await analyzer.analyzeBuffers(buffers);
      let next = 0;
      for (const [i, file] of slice.entries()) {
        const r = read[i]!;
        const result = Buffer.isBuffer(r) ? analysed[next++]! : r;
        if (!('heads' in result)) failures++;
        process.stdout.write(values.json ? `${JSON.stringify(jsonLine(file.name, result))}\n` : textLines(file.name, result));
      }
      progress.tick(start + slice.length);
    }
  } finally {
    progress.finish();
    await analyzer.close();
  }
  return failures > 0 ? 1 : 0;
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
    // A head of another kind of product than the photo shows says nothing about it: one word, not its guesses.
    if (head.outOfVertical) {
      lines.push(`  ${name.padEnd(16)} -  (not this kind of product)`);
      continue;
    }
    const shown = head.kind === 'single' ? head.top.slice(0, 3) : head.labels.slice(0, 5);
    const text = shown.map((l) => `${l.label} ${l.score.toFixed(2)}`).join(', ');
    const how = head.kind === 'single' && head.source === 'pixels' ? '  (measured from pixels)' : '';
    lines.push(`  ${name.padEnd(16)} ${text}${head.kind === 'single' && head.abstain ? '  (unsure)' : ''}${how}`);
  }
  lines.push(`  ${'code'.padEnd(16)} ${result.code.slice(0, 16)}…`);
  return `${lines.join('\n')}\n`;
}
