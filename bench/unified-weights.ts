// Where the unified model loses to single-task ones (BENCHMARKS.md "unified vs single"),
// try what GrokNet did: re-weight the losing heads' losses or their datasets' sampling, and
// retrain the unified model alone with the same features, seed and budget.
// Run: node --import tsx bench/unified-weights.ts configs/default.json --epochs 6 \
//        --variant '{"name":"...","tasks":{"clothing":2},"datasets":{"fashion-mnist":1.6}}' [--variant ...]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createProgress } from '../src/cli/progress.ts';
import { readTrainConfig, type TrainConfig } from '../src/train/config.ts';
import { prepareTraining, trainPrepared, type Prepared, type TrainOutcome } from '../src/train/train.ts';
import { machine, writeSection } from './report.ts';

const VariantSchema = z.strictObject({
  name: z.string().min(1),
  /** Loss weight per head (softmax and multi-label heads). */
  tasks: z.record(z.string(), z.number().positive()).default({}),
  /** Sampling weight per dataset. */
  datasets: z.record(z.string(), z.number().positive()).default({}),
});
type Variant = z.infer<typeof VariantSchema>;

const { values, positionals } = parseArgs({ options: { epochs: { type: 'string' }, 'skip-baseline': { type: 'boolean', default: false }, variant: { type: 'string', multiple: true, default: [] } }, allowPositionals: true });
const configFile = path.resolve(positionals[0] ?? 'configs/default.json');
const config = await readTrainConfig(configFile);
if (values.epochs) config.optimizer.epochs = Number(values.epochs);
// The baseline is the "unified" column of the unified-vs-single table (same seed and budget,
// so the same figures); --skip-baseline saves its training time.
const variants: Variant[] = [...(values['skip-baseline'] ? [] : [{ name: 'as configured', tasks: {}, datasets: {} }]), ...values.variant!.map((v) => VariantSchema.parse(JSON.parse(v)))];
const log = (line: string) => process.stderr.write(`${line}\n`);
const prepared = await prepareTraining(config, log, { startProgress: createProgress });

function apply(base: TrainConfig, variant: Variant): TrainConfig {
  for (const name of Object.keys(variant.tasks)) if (!base.tasks.some((t) => t.head === name && t.head !== 'embedding')) throw new Error(`no head ${name}`);
  for (const name of Object.keys(variant.datasets)) if (!base.datasets.some((d) => d.name === name)) throw new Error(`no dataset ${name}`);
  return {
    ...base,
    tasks: base.tasks.map((t) => (t.head !== 'embedding' && variant.tasks[t.head] !== undefined ? { ...t, weight: variant.tasks[t.head]! } : t)),
    datasets: base.datasets.map((d) => (variant.datasets[d.name] !== undefined ? { ...d, weight: variant.datasets[d.name]! } : d)),
  };
}

const runs: Array<{ variant: Variant; outcome: TrainOutcome }> = [];
for (const variant of variants) {
  log(`== unified, ${variant.name}`);
  const patchedConfig = apply(config, variant);
  // Row sampling weights are dataset weight / dataset rows: scale each row by its dataset's change.
  const ratio = new Map(config.datasets.map((d) => [d.name, patchedConfig.datasets.find((c) => c.name === d.name)!.weight / d.weight]));
  const rowWeights = prepared.rows.rowWeights.map((w, r) => w * (ratio.get(prepared.rows.rows[r]!.sample.dataset) ?? 1));
  const patched: Prepared = { ...prepared, config: patchedConfig, rows: { ...prepared.rows, rowWeights } };
  runs.push({ variant, outcome: await trainPrepared(patched, { out: '', dryRun: true, log }) });
}

const measures: Array<[string, string, string]> = [
  ['clothing', 'accuracy', 'clothing accuracy'],
  ['clothing', 'accuracy_10_most_common_labels', 'clothing, 10 most common labels'],
  ['grocery_fine', 'accuracy', 'grocery fine'],
  ['grocery_coarse', 'accuracy', 'grocery coarse'],
  ['fashion_mnist', 'accuracy', 'Fashion-MNIST'],
  ['garment_tags', 'mAP', 'garment tags mAP'],
  ['photo_to_catalog', 'recall_at_1', 'photo -> catalog R@1'],
  ['augmented_view_retrieval', 'recall_at_1', 'augmented-view R@1'],
];
const cell = (o: TrainOutcome, head: string, key: string) => {
  const v = o.evaluation.report[head]?.[key];
  return typeof v === 'number' ? v.toFixed(3) : '-';
};
const describe = (v: Variant) =>
  [...Object.entries(v.tasks).map(([k, w]) => `${k} loss x${w}`), ...Object.entries(v.datasets).map(([k, w]) => `${k} sampling ${w}`)].join(', ') || 'default.json weights';
const table = [
  `| measure | ${runs.map((r) => `${r.variant.name} (${describe(r.variant)})`).join(' | ')} |`,
  `|---|${runs.map(() => '---').join('|')}|`,
  ...measures.map(([head, key, label]) => `| ${label} | ${runs.map((r) => cell(r.outcome, head, key)).join(' | ')} |`),
].join('\n');
console.log(table);
await writeSection(
  'unified-weights',
  `## Unified model: re-weighting the heads it loses on (issue: unified training)

Command: \`node --import tsx bench/unified-weights.ts ${path.relative(process.cwd(), configFile)}${values.epochs ? ` --epochs ${values.epochs}` : ''}${values['skip-baseline'] ? ' --skip-baseline' : ''} ${values.variant!.map((v) => `--variant '${v}'`).join(' ')}\`. Machine: ${machine()}.
Same cached features, seed, optimiser and ${config.optimizer.epochs} epochs as the "unified vs single" table (its "unified" column is the model as configured${values['skip-baseline'] ? ', not retrained here' : ''}); only loss weights (per head) or sampling weights (per dataset) change. Held-out rows as in models/groknet-base/EVAL.md.

${table}`,
);
