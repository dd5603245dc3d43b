import path from 'node:path';
import { DEFAULT_MODEL_DIR } from '../../model/load-model.ts';
import { buildBaseModel } from '../../train/build-base-model.ts';
import { intOption, parse } from '../args.ts';

export async function trainBaseCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { datasets: { type: 'string' }, out: { type: 'string' }, epochs: { type: 'string' }, seed: { type: 'string' } }, false);
  const manifest = await buildBaseModel({
    datasets: path.resolve(values.datasets ?? '../shared/datasets'),
    out: path.resolve(values.out ?? DEFAULT_MODEL_DIR),
    epochs: intOption(values.epochs, 'epochs', 1, 1000, 30),
    seed: intOption(values.seed, 'seed', 0, 2 ** 31, 7),
  });
  process.stdout.write(`${JSON.stringify(manifest.evaluation, null, 2)}\n`);
  return 0;
}
