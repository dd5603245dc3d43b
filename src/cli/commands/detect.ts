// `groknet detect [--json] [--detector centernet|nanodet] [--min-score S] [--max-products N]
//   [--model DIR] [--embedding] [--provider P] [--files-from LIST [-0]] FILE|DIR...`
// Finds the products in each photo and analyses each one. One JSON line per file in input
// order (directories walked as by `analyze`), or a readable summary; a file that fails
// prints its error line and the others go on; exit 1 if any failed.
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { DEFAULT_DETECTOR, DETECTOR_NAMES, isDetectorName, openDetector } from '../../detect/index.ts';
import type { ExecutionProvider } from '../../model/backend/onnxruntime.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { DEFAULT_MAX_PRODUCTS, detectedProductJson, detectProducts, MAX_PRODUCTS_LIMIT, type ImageProducts } from '../../pipelines/detect.ts';
import { intOption, numberOption, parse } from '../args.ts';
import { expandInputs, hasInputs, inputHelp, INPUT_OPTIONS, INPUT_USAGE, listInputs, readInputFile, warnOnStderr } from '../inputs.ts';
import { createProgress } from '../progress.ts';

const USAGE = `usage: groknet detect [--json] [--detector ${DETECTOR_NAMES.join('|')}] [--min-score 0.3] [--max-products N] [--model DIR] [--embedding] [--provider cpu|cuda] ${INPUT_USAGE} FILE|DIR...\n${inputHelp('detect')}`;

// Files per detectProducts call: output streams out and memory stays bounded.
const CHUNK = 16;

export async function detectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    json: { type: 'boolean', default: false },
    detector: { type: 'string', default: DEFAULT_DETECTOR },
    'min-score': { type: 'string' },
    'max-products': { type: 'string' },
    model: { type: 'string' },
    embedding: { type: 'boolean', default: false },
    provider: { type: 'string' },
    ...INPUT_OPTIONS,
  });
  if (!hasInputs(positionals, values)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const detectorName = values.detector;
  if (!isDetectorName(detectorName)) throw new GroknetError('invalid_argument', `--detector must be one of ${DETECTOR_NAMES.join(', ')}, got '${detectorName}'`);
  const minScore = numberOption(values['min-score'], 'min-score', 0, 1, 0.3);
  const maxProducts = intOption(values['max-products'], 'max-products', 1, MAX_PRODUCTS_LIMIT, DEFAULT_MAX_PRODUCTS);
  const provider = (values.provider ?? 'cpu') as ExecutionProvider;

  const files = await expandInputs(await listInputs(positionals, values), { warn: warnOnStderr('detect') });
  const [detector, analyzer] = await Promise.all([
    openDetector(detectorName, { provider }),
    ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined, { provider }),
  ]);
  const progress = createProgress('detect', files.length);
  let failures = 0;
  try {
    for (let start = 0; start < files.length; start += CHUNK) {
      const slice = files.slice(start, start + CHUNK);
      const read = await Promise.all(slice.map((f) => readInputFile(f)));
      const buffers = read.filter((r): r is Buffer => Buffer.isBuffer(r));
      const found = await detectProducts(buffers, { detector, analyzer, minScore, maxProducts });
      let next = 0;
      for (const [i, file] of slice.entries()) {
        const r = read[i]!;
        const result = Buffer.isBuffer(r) ? found[next++]! : r;
        if (result instanceof GroknetError) failures++;
        process.stdout.write(values.json ? `${JSON.stringify(detectJsonLine(file.name, result, { embedding: values.embedding }))}\n` : textLines(file.name, result));
      }
      progress.tick(start + slice.length);
    }
  } finally {
    progress.finish();
    await Promise.all([detector.close(), analyzer.close()]);
  }
  return failures > 0 ? 1 : 0;
}

/** The JSON line for one file; the same error shape as `groknet analyze`. */
export function detectJsonLine(file: string, result: ImageProducts | GroknetError, options: { embedding?: boolean } = {}): Record<string, unknown> {
  if (result instanceof GroknetError) return { file, error: { code: result.code, message: result.message } };
  return { file, products: result.products.map((p) => detectedProductJson(p, options)) };
}

function textLines(file: string, result: ImageProducts | GroknetError): string {
  if (result instanceof GroknetError) return `${file}\n  error ${result.code}: ${result.message}\n`;
  const lines = [`${file}  (${result.products.length} product${result.products.length === 1 ? '' : 's'})`];
  for (const p of result.products) {
    const [x, y, w, h] = p.box.map(Math.round) as [number, number, number, number];
    const what = `${p.class}${p.vertical ? ` (${p.vertical})` : ''}`;
    const heads = Object.entries(p.analysis.heads)
      .map(([name, head]) => {
        const best = head.kind === 'single' ? head.top[0] : head.labels[0];
        return best ? `${name} ${best.label} ${best.score.toFixed(2)}` : undefined;
      })
      .filter(Boolean)
      .join(', ');
    lines.push(`  ${what.padEnd(24)} ${p.score.toFixed(2)}  ${x},${y} ${w}x${h}${heads ? `  ${heads}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
