// `groknet train CONFIG [--out DIR] [--resume]`: the unified trainer (see src/train/train.ts).
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { DEFAULT_MODEL_DIR } from '../../model/load-model.ts';
import { readTrainConfig } from '../../train/config.ts';
import { train } from '../../train/train.ts';
import { parse } from '../args.ts';
import { isInterruption, watchInterrupts } from '../interrupt.ts';
import { createProgress } from '../progress.ts';

export async function trainCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: 'string' }, resume: { type: 'boolean', default: false } });
  if (positionals.length !== 1) throw new GroknetError('invalid_argument', 'usage: groknet train CONFIG.json [--out DIR] [--resume]');
  const config = await readTrainConfig(path.resolve(positionals[0]!));
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
