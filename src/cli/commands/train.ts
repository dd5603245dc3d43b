// `groknet train CONFIG [--out DIR] [--resume]`: the unified trainer (see src/train/train.ts).
// `groknet train CONFIG --only pixels [--out DIR]`: only the colour-histogram classifiers of the
// config's "pixels" tasks, into the model already in DIR (src/train/pixel-colour.ts).
// `groknet train --catalog DIR --head NAME --from FIELD --out DIR [--model BASE] [--replace]`:
// a head trained from a catalog's labels, added to a model (see src/train/catalog-train.ts).
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { DEFAULT_MODEL_DIR } from '../../model/load-model.ts';
import { readTrainConfig } from '../../train/config.ts';
import { train, trainPixelsOnly } from '../../train/train.ts';
import { trainCatalogHead } from '../../train/catalog-train.ts';
import { parse } from '../args.ts';
import { isInterruption, watchInterrupts } from '../interrupt.ts';
import { createProgress } from '../progress.ts';

const CATALOG_USAGE = 'usage: groknet train --catalog DIR --head NAME --from category|attributes.NAME --out MODEL_DIR [--model BASE_MODEL_DIR] [--replace]';

export async function trainCommand(args: string[]): Promise<number> {
  if (args.some((arg) => arg === '--catalog' || arg.startsWith('--catalog='))) return trainFromCatalog(args);
  const { values, positionals } = parse(args, { out: { type: 'string' }, resume: { type: 'boolean', default: false }, only: { type: 'string' } });
  if (positionals.length !== 1) throw new GroknetError('invalid_argument', 'usage: groknet train CONFIG.json [--out DIR] [--resume | --only pixels]');
  if (values.only !== undefined && values.only !== 'pixels') throw new GroknetError('invalid_argument', `--only takes "pixels" (the colour-histogram classifiers), not "${values.only}"`);
  if (values.only && values.resume) throw new GroknetError('invalid_argument', '--only pixels and --resume cannot be combined: --only pixels starts from the model already in --out');
  const config = await readTrainConfig(path.resolve(positionals[0]!));
  if (values.only) return trainPixels(config, path.resolve(values.out ?? DEFAULT_MODEL_DIR));
  // A first SIGINT/SIGTERM stops at the next safe point with what was done kept, a second exits at once.
  const interrupt = watchInterrupts('train', 'at the next safe point (between batches of images, or after a checkpoint between training steps)');
  try {
    const outcome = await train(config, { out: path.resolve(values.out ?? DEFAULT_MODEL_DIR), resume: values.resume, signal: interrupt.signal, startProgress: createProgress });
    process.stdout.write(`${JSON.stringify({ evaluation: outcome.evaluation.report, seconds: outcome.seconds }, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (!isInterruption(error) || !interrupt.received) throw error;
    process.stderr.write(`groknet train: interrupted by ${interrupt.received}${error.details ? ` ${error.details}` : ''}; to go on from there, run the same command with --resume\n`);
    return interrupt.exitCode;
  } finally {
    interrupt.dispose();
  }
}

async function trainPixels(config: Awaited<ReturnType<typeof readTrainConfig>>, out: string): Promise<number> {
  const interrupt = watchInterrupts('train', 'between photos or epochs; nothing is written until the end');
  try {
    const manifest = await trainPixelsOnly(config, { out, signal: interrupt.signal, startProgress: createProgress });
    const evaluation = Object.fromEntries(Object.entries(manifest.evaluation ?? {}).filter(([key]) => key.endsWith('_with_pixels')));
    process.stdout.write(`${JSON.stringify({ model: `${manifest.name}@${manifest.version}`, out, evaluation }, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (!isInterruption(error) || !interrupt.received) throw error;
    process.stderr.write(`groknet train: interrupted by ${interrupt.received}; the model in ${out} is as it was\n`);
    return interrupt.exitCode;
  } finally {
    interrupt.dispose();
  }
}

async function trainFromCatalog(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    catalog: { type: 'string' },
    head: { type: 'string' },
    from: { type: 'string' },
    out: { type: 'string' },
    model: { type: 'string' },
    replace: { type: 'boolean', default: false },
  });
  if (positionals.length > 0 || !values.catalog || !values.head || !values.from || !values.out) throw new GroknetError('invalid_argument', CATALOG_USAGE);
  const interrupt = watchInterrupts('train', 'at the next safe point (between batches of images, whose features stay cached, or before the model is written)');
  try {
    const outcome = await trainCatalogHead({
      catalog: path.resolve(values.catalog),
      head: values.head,
      field: values.from,
      out: path.resolve(values.out),
      ...(values.model ? { baseModel: path.resolve(values.model) } : {}),
      replace: values.replace,
      signal: interrupt.signal,
      startProgress: createProgress,
    });
    const { manifest, report, labels, featuresComputed, skippedImages } = outcome;
    process.stdout.write(
      `${JSON.stringify(
        {
          model: `${manifest.name}@${manifest.version}`,
          out: path.resolve(values.out),
          head: values.head,
          labels: { catalog: labels.catalog, field: labels.field, listings: labels.listings, labelledListings: labels.labelledListings, classes: labels.listingsPerClass, droppedClasses: labels.droppedClasses },
          evaluation: report,
          featuresComputed,
          skippedImages: skippedImages.length,
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  } catch (error) {
    if (!isInterruption(error) || !interrupt.received) throw error;
    process.stderr.write(`groknet train: interrupted by ${interrupt.received}${error.details ? ` ${error.details}` : ''}; nothing was written to ${values.out}; run the same command again (the features computed so far are cached)\n`);
    return interrupt.exitCode;
  } finally {
    interrupt.dispose();
  }
}
