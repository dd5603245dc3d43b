// The GrokNet claim, measured: the unified model (all heads and losses trained jointly on
// all datasets) against one model per head trained the same way (same features, same
// epochs, same optimiser) on that head's dataset alone. Validation splits as in EVAL.md.
// Run: node --import tsx bench/unified-vs-single.ts [configs/default.json]
//   --unified-model models/groknet-base: take the unified column from a model `groknet train`
//   built from this same config (training is repeatable: same cache and seed, same heads.onnx)
//   instead of training it again, which is a third of the bench's time.
//   --heads a,b: single-task models for these heads only (the multi-label loss comparison and
//   the embedding rows only where their heads are named), written to their own section.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../src/cli/progress.ts';
import { readTrainConfig } from '../src/train/config.ts';
import type { Evaluation } from '../src/train/evaluate-fit.ts';
import { prepareTraining, trainPrepared, type TrainOutcome } from '../src/train/train.ts';
import { machine, writeSection } from './report.ts';

const { values, positionals } = parseArgs({ options: { epochs: { type: 'string' }, 'unified-model': { type: 'string' }, heads: { type: 'string' } }, allowPositionals: true });
const configFile = path.resolve(positionals[0] ?? 'configs/default.json');
const config = await readTrainConfig(configFile);
// Every model gets the same budget; --epochs shortens it for all of them alike.
if (values.epochs) config.optimizer.epochs = Number(values.epochs);
const unifiedModel = values['unified-model'] ? await readUnifiedModel(values['unified-model']) : undefined;
const log = (line: string) => process.stderr.write(`${line}\n`);
const prepared = await prepareTraining(config, log, { startProgress: createProgress });

const onlyHeads = values.heads?.split(',').map((h) => h.trim()).filter(Boolean);
const allHeads = config.tasks.filter((t) => t.head !== 'embedding').map((t) => t.head);
for (const head of onlyHeads ?? []) if (!allHeads.includes(head)) throw new Error(`--heads: '${head}' is not a head of ${configFile} (${allHeads.join(', ')})`);
const headTasks = onlyHeads ? allHeads.filter((h) => onlyHeads.includes(h)) : allHeads;
const embeddingTasks = config.tasks.filter((t) => t.head === 'embedding').map((t) => t.head);
const runs: Array<{ name: string; outcome: TrainOutcome }> = [];
log(unifiedModel ? `== unified: read from ${values['unified-model']}` : '== unified');
runs.push({ name: 'unified', outcome: unifiedModel ?? (await trainPrepared(prepared, { out: '', dryRun: true, log })) });
for (const head of headTasks) {
  log(`== single: ${head}`);
  // The grocery heads' single-task model keeps the embedding losses, which read grocery products.
  const withEmbedding = head === 'grocery_fine' ? [...embeddingTasks] : [];
  runs.push({ name: head, outcome: await trainPrepared(prepared, { out: '', dryRun: true, onlyHeads: [head, ...withEmbedding], log }) });
}

// Multi-label loss, compared on the same single-task budget: sigmoid/BCE (one yes/no per
// tag) against multi-label softmax (the tags share one softmax, targets spread over them).
const multiLabel = config.tasks.filter((t) => (t.loss === 'bce' || t.loss === 'multilabel-softmax') && headTasks.includes(t.head));
const lossRuns: Array<{ head: string; loss: string; outcome: TrainOutcome }> = [];
for (const task of multiLabel) {
  const other = task.loss === 'bce' ? 'multilabel-softmax' : 'bce';
  log(`== single: ${task.head} with ${other}`);
  const swapped = { ...prepared, config: { ...config, tasks: config.tasks.map((t) => (t === task ? { ...t, loss: other } : t)) } } as typeof prepared;
  lossRuns.push({ head: task.head, loss: task.loss, outcome: runs.find((r) => r.name === task.head)!.outcome });
  lossRuns.push({ head: task.head, loss: other, outcome: await trainPrepared(swapped, { out: '', dryRun: true, onlyHeads: [task.head], log }) });
}
const value = (o: TrainOutcome, head: string, key: string): string => {
  const v = o.evaluation.report[head]?.[key];
  return typeof v === 'number' ? v.toFixed(3) : '-';
};
const lossRows = lossRuns.map(
  (r) => `| ${r.head} | ${r.loss} | ${value(r.outcome, r.head, 'mAP')} | ${value(r.outcome, r.head, 'micro_f1_at_calibrated_thresholds')} | ${value(r.outcome, r.head, 'micro_f1_at_0_5')} |`,
);

const unified = runs[0]!.outcome;
// Every single-label head by accuracy over all its labels; clothing also over its 10 most
// common labels (the issue's target); multi-label heads by mAP.
const rows = headTasks.flatMap((head) => {
  const single = runs.find((r) => r.name === head)!.outcome;
  const report = unified.evaluation.report[head] ?? {};
  const keys: Array<[string, string]> =
    report.mAP !== undefined ? [['mAP', 'mAP']] : [['accuracy', 'accuracy'], ...(head === 'clothing' ? [['accuracy_10_most_common_labels', 'accuracy (10 most common labels)'] as [string, string]] : [])];
  return keys.map(([key, what]) => `| ${head} | ${what} | ${value(single, head, key)} | ${value(unified, head, key)} |`);
});
const retrieval = (o: TrainOutcome, key: string): string => {
  const v = o.evaluation.report[key]?.recall_at_1;
  return typeof v === 'number' ? v.toFixed(3) : '-';
};
const groceryRun = runs.find((r) => r.name === 'grocery_fine')?.outcome;
if (groceryRun) {
  rows.push(`| embedding | photo -> catalog R@1 | ${retrieval(groceryRun, 'photo_to_catalog')} (with grocery heads) | ${retrieval(unified, 'photo_to_catalog')} |`);
  rows.push(`| embedding | augmented-view R@1 | ${retrieval(groceryRun, 'augmented_view_retrieval')} | ${retrieval(unified, 'augmented_view_retrieval')} |`);
}

await writeSection(
  onlyHeads ? 'unified-vs-single-heads' : 'unified-vs-single',
  `## Unified vs single-task models${onlyHeads ? `: ${headTasks.join(', ')}` : ''} (issue: unified training${onlyHeads ? ', #25' : ''})

Command: \`node --import tsx bench/unified-vs-single.ts ${path.relative(process.cwd(), configFile)}${values.epochs ? ` --epochs ${values.epochs}` : ''}${values['unified-model'] ? ` --unified-model ${values['unified-model']}` : ''}${onlyHeads ? ` --heads ${headTasks.join(',')}` : ''}\`. Machine: ${machine()}.
Same cached features (${prepared.rows.rows.length} rows incl. augmented views), same optimiser and ${config.optimizer.epochs} epochs for every model; each single-task model trains on its head's dataset only. Scores on the held-out rows described in models/groknet-base/EVAL.md.${
    unifiedModel ? `\nThe unified column is read from ${values['unified-model']}/model.json (${config.name} ${config.version}, trained by \`groknet train\` from this config), not trained again.` : ''
  }

| head | measure | single-task | unified |
|---|---|---|---|
${rows.join('\n')}

${
  lossRows.length > 0
    ? `Multi-label loss (single-task, same budget; F1 thresholds calibrated on one half of the held-out rows and scored on the other):

| head | loss | mAP | micro-F1 (calibrated) | micro-F1 at 0.5 |
|---|---|---|---|---|
${lossRows.join('\n')}
`
    : ''
}
Training time (fit only): unified ${unified.seconds.fit.toFixed(0)} s${unifiedModel ? ' (its own run)' : ''}; single-task models ${runs.slice(1).map((r) => `${r.name} ${r.outcome.seconds.fit.toFixed(0)} s`).join(', ')}.`,
);
console.log(rows.join('\n'));
// Every figure of every run, so the table can be re-cut without training again.
console.log(JSON.stringify({ runs: runs.map((r) => ({ name: r.name, report: r.outcome.evaluation.report })), lossRuns: lossRuns.map((r) => ({ head: r.head, loss: r.loss, report: r.outcome.evaluation.report[r.head] })) }));

/** The unified column from a trained model's model.json, refused unless the config names it. */
async function readUnifiedModel(dir: string): Promise<TrainOutcome> {
  if (values.epochs) throw new Error('--unified-model cannot be combined with --epochs: the model was trained with the config\'s epochs');
  const manifest = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as {
    name?: string;
    version?: string;
    evaluation?: Evaluation['report'];
    training?: { fitSeconds?: number; featureSeconds?: number };
  };
  if (manifest.name !== config.name || manifest.version !== config.version) {
    throw new Error(`${dir}/model.json is ${manifest.name} ${manifest.version}, not ${config.name} ${config.version} of ${configFile}: train it from this config or leave --unified-model out`);
  }
  if (!manifest.evaluation || typeof manifest.training?.fitSeconds !== 'number') throw new Error(`${dir}/model.json has no evaluation or training time`);
  return {
    evaluation: { report: manifest.evaluation, abstainBelow: {}, thresholds: {} },
    seconds: { features: manifest.training.featureSeconds ?? 0, fit: manifest.training.fitSeconds, total: 0 },
  };
}
