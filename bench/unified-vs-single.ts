// The GrokNet claim, measured: the unified model (all heads and losses trained jointly on
// all datasets) against one model per head trained the same way (same features, same
// epochs, same optimiser) on that head's dataset alone. Validation splits as in EVAL.md.
// Run: node --import tsx bench/unified-vs-single.ts [configs/default.json]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readTrainConfig } from '../src/train/config.ts';
import { prepareTraining, trainPrepared, type TrainOutcome } from '../src/train/train.ts';
import { machine, writeSection } from './report.ts';

const { values, positionals } = parseArgs({ options: { epochs: { type: 'string' } }, allowPositionals: true });
const configFile = path.resolve(positionals[0] ?? 'configs/default.json');
const config = await readTrainConfig(configFile);
// Every model gets the same budget; --epochs shortens it for all of them alike.
if (values.epochs) config.optimizer.epochs = Number(values.epochs);
const log = (line: string) => process.stderr.write(`${line}\n`);
const prepared = await prepareTraining(config, log);

const headTasks = config.tasks.filter((t) => t.head !== 'embedding').map((t) => t.head);
const embeddingTasks = config.tasks.filter((t) => t.head === 'embedding').map((t) => t.head);
const runs: Array<{ name: string; outcome: TrainOutcome }> = [];
log('== unified');
runs.push({ name: 'unified', outcome: await trainPrepared(prepared, { out: '', dryRun: true, log }) });
for (const head of headTasks) {
  log(`== single: ${head}`);
  // The grocery heads' single-task model keeps the embedding losses, which read grocery products.
  const withEmbedding = head === 'grocery_fine' ? [...embeddingTasks] : [];
  runs.push({ name: head, outcome: await trainPrepared(prepared, { out: '', dryRun: true, onlyHeads: [head, ...withEmbedding], log }) });
}

const measure = (o: TrainOutcome, head: string): string => {
  const r = o.evaluation.report[head];
  if (!r) return '-';
  const v = r.accuracy_10_most_common_labels ?? r.accuracy ?? r.mAP;
  return typeof v === 'number' ? v.toFixed(3) : '-';
};
const unified = runs[0]!.outcome;
const rows = headTasks.map((head) => {
  const single = runs.find((r) => r.name === head)!.outcome;
  const what = unified.evaluation.report[head]?.accuracy_10_most_common_labels !== undefined ? 'accuracy (10 most common labels)' : unified.evaluation.report[head]?.mAP !== undefined ? 'mAP' : 'accuracy';
  return `| ${head} | ${what} | ${measure(single, head)} | ${measure(unified, head)} |`;
});
const retrieval = (o: TrainOutcome, key: string): string => {
  const v = o.evaluation.report[key]?.recall_at_1;
  return typeof v === 'number' ? v.toFixed(3) : '-';
};
const groceryRun = runs.find((r) => r.name === 'grocery_fine')!.outcome;
rows.push(`| embedding | photo -> catalog R@1 | ${retrieval(groceryRun, 'photo_to_catalog')} (with grocery heads) | ${retrieval(unified, 'photo_to_catalog')} |`);
rows.push(`| embedding | augmented-view R@1 | ${retrieval(groceryRun, 'augmented_view_retrieval')} | ${retrieval(unified, 'augmented_view_retrieval')} |`);

await writeSection(
  'unified-vs-single',
  `## Unified vs single-task models (issue: unified training)

Command: \`node --import tsx bench/unified-vs-single.ts ${path.relative(process.cwd(), configFile)}${values.epochs ? ` --epochs ${values.epochs}` : ''}\`. Machine: ${machine()}.
Same cached features (${prepared.rows.rows.length} rows incl. augmented views), same optimiser and ${config.optimizer.epochs} epochs for every model; each single-task model trains on its head's dataset only. Scores on the held-out rows described in models/groknet-base/EVAL.md.

| head | measure | single-task | unified |
|---|---|---|---|
${rows.join('\n')}

Training time (fit only): unified ${unified.seconds.fit.toFixed(0)} s; single-task models ${runs.slice(1).map((r) => `${r.name} ${r.outcome.seconds.fit.toFixed(0)} s`).join(', ')}.`,
);
console.log(rows.join('\n'));
