// `groknet eval [--model DIR] [--datasets DIR] [--json] [--out FILE.md]`
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { evaluateModel, reportMarkdown } from '../../train/eval-model.ts';
import { parse } from '../args.ts';
import { createProgress } from '../progress.ts';

export async function evalCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { model: { type: 'string' }, datasets: { type: 'string' }, json: { type: 'boolean', default: false }, out: { type: 'string' } }, false);
  const report = await evaluateModel(values.model ? path.resolve(values.model) : undefined, path.resolve(values.datasets ?? '../shared/datasets'), { startProgress: createProgress });
  const markdown = reportMarkdown(report);
  if (values.out) await writeFile(values.out, markdown);
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : markdown);
  return 0;
}
