// `groknet labels stats --data DIR [--json]`, `groknet labels export ...`
// The labels sellers gave the model back: `stats` counts, per head and label, how often the
// suggestions shown when publishing (POST /v1/products with `suggested`) were accepted,
// corrected (and to what) or dropped, from the catalog's feedback table.
import { openCatalog } from '../../catalog/index.ts';
import type { FeedbackCount } from '../../catalog/feedback-types.ts';
import { GroknetError } from '../../errors.ts';
import { parse } from '../args.ts';
import { existingCatalogDir } from '../existing-catalog.ts';

const USAGE = 'usage: groknet labels stats [--data DIR] [--json] | groknet labels export ...';

/** One head's label: how often it was shown, and what sellers did with it. */
export interface LabelStats {
  head: string;
  label: string;
  shown: number;
  accepted: number;
  corrected: number;
  dropped: number;
  /** What sellers changed it to, most often first. */
  correctedTo: Array<{ value: string; count: number }>;
}

export async function labelsCommand(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === 'stats') return statsCommand(rest);
  // `labels export`: implemented in labels-export.ts, loaded only when asked for.
  if (subcommand === 'export') return (await import('./labels-export.ts')).labelsExportCommand(rest);
  throw new GroknetError('invalid_argument', subcommand ? `unknown labels subcommand '${subcommand}'; ${USAGE}` : USAGE);
}

async function statsCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string' }, json: { type: 'boolean', default: false } }, false);
  const catalog = await openCatalog(await existingCatalogDir(values.data));
  try {
    const stats = labelStats(await catalog.feedbackCounts());
    if (values.json) process.stdout.write(`${JSON.stringify({ labels: stats })}\n`);
    else process.stdout.write(statsText(stats));
    return 0;
  } finally {
    await catalog.close();
  }
}

/** Outcome counts grouped per head and label, heads by name, labels most shown first. */
export function labelStats(counts: readonly FeedbackCount[]): LabelStats[] {
  const byLabel = new Map<string, LabelStats>();
  for (const { head, label, outcome, final, count } of counts) {
    const key = JSON.stringify([head, label]);
    const stats = byLabel.get(key) ?? { head, label, shown: 0, accepted: 0, corrected: 0, dropped: 0, correctedTo: [] };
    stats.shown += count;
    stats[outcome] += count;
    if (outcome === 'corrected' && final !== null) {
      const to = stats.correctedTo.find((c) => c.value === final);
      if (to) to.count += count;
      else stats.correctedTo.push({ value: final, count });
    }
    byLabel.set(key, stats);
  }
  const all = [...byLabel.values()];
  for (const stats of all) stats.correctedTo.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1));
  return all.sort((a, b) => (a.head < b.head ? -1 : a.head > b.head ? 1 : b.shown - a.shown || (a.label < b.label ? -1 : 1)));
}

function statsText(stats: readonly LabelStats[]): string {
  if (stats.length === 0) return 'no suggestion feedback yet: listings published with `suggested` (the sell page sends it) are counted here\n';
  const lines: string[] = [];
  let head: string | undefined;
  for (const s of stats) {
    if (s.head !== head) {
      head = s.head;
      lines.push(`${head}:`, `  ${'label'.padEnd(24)} ${'shown'.padStart(6)} ${'accepted'.padStart(9)} ${'corrected'.padStart(10)} ${'dropped'.padStart(8)}  corrected to`);
    }
    const to = s.correctedTo.map((c) => `${c.value} (${c.count})`).join(', ');
    lines.push(`  ${s.label.padEnd(24)} ${String(s.shown).padStart(6)} ${String(s.accepted).padStart(9)} ${String(s.corrected).padStart(10)} ${String(s.dropped).padStart(8)}  ${to}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}
