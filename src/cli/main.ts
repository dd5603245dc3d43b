// The groknet command line: one file per command under commands/, all over the library.
// Each command's module (and so the model, the catalog, the server...) is imported only
// when that command runs: `groknet --help` loads this file and errors.ts, nothing else.
import { GroknetError, isGroknetError } from '../errors.ts';

export type Command = (args: string[]) => Promise<number>;

interface CommandEntry {
  /** Imports the command's module and returns its entry point. */
  load: () => Promise<Command>;
  summary: string;
}

const COMMANDS: Record<string, CommandEntry> = {
  analyze: { load: async () => (await import('./commands/analyze.ts')).analyzeCommand, summary: 'analyze [--model DIR] [--json] [--batch N] [--files-from LIST|- [-0]] FILE|DIR...   heads, embedding and code per image' },
  detect: { load: async () => (await import('./commands/detect.ts')).detectCommand, summary: 'detect [--json] [--detector centernet|nanodet] [--min-score S] [--model DIR] [--files-from LIST|- [-0]] FILE|DIR...   products in each photo, each analysed' },
  segment: { load: async () => (await import('./commands/segment.ts')).segmentCommand, summary: 'segment FILE --out MASK.png [--json] [--model DIR] [--min-share 0.005]   clothing mask and each garment with its colour' },
  'shop-the-look': { load: async () => (await import('./commands/shop-the-look.ts')).shopTheLookCommand, summary: 'shop-the-look FILE [--data DIR] [--model DIR] [--segment-model DIR] [--k 8] [--max-garments 6] [--min-share 0.005] [--no-colour] [--json]   each garment of an outfit photo with the catalog products like it (of its colour)' },
  index: { load: async () => (await import('./commands/index.ts')).indexCommand, summary: 'index SOURCE|IMAGE... [--files-from LIST|- [-0]] [--data DIR] [--no-detect] [--garments [--segment-model DIR]] [--queue redis://HOST:PORT]   add folders, CSV/JSONL files of listings or single images to the catalog (and link products seen together in their photos)' },
  worker: { load: async () => (await import('./commands/worker.ts')).workerCommand, summary: 'worker --queue redis://HOST:PORT [--data DIR] [--batch N] [--no-detect] [--garments [--segment-model DIR]]   process queued ingestion jobs, in batches' },
  search: { load: async () => (await import('./commands/search.ts')).searchCommand, summary: 'search [--data DIR] (WORDS... | --text "..." | --image FILE | --product ID | --filter k=v) [--filter k=v]... [--k N] [--json]' },
  labels: { load: async () => (await import('./commands/labels.ts')).labelsCommand, summary: 'labels stats [--data DIR] [--json] | labels export ...   how sellers accepted, corrected or dropped the suggested labels' },
  'seen-together': { load: async () => (await import('./commands/seen-together.ts')).seenTogetherCommand, summary: 'seen-together --product ID [--data DIR] [--k N] [--json]   products photographed together with a product' },
  pseudolabel: { load: async () => (await import('./commands/pseudolabel.ts')).pseudolabelCommand, summary: 'pseudolabel PHOTOS... [--files-from LIST|- [-0]] --data DIR --out DATASET.jsonl [--detector centernet]   label the products in unlabelled photos from the catalog' },
  duplicates: { load: async () => (await import('./commands/duplicates.ts')).duplicatesCommand, summary: 'duplicates [--data DIR] [--threshold 0.95]   near-duplicate listing groups' },
  reindex: { load: async () => (await import('./commands/reindex.ts')).reindexCommand, summary: 'reindex [--data DIR] [--model DIR]   re-analyse the catalog with the current model' },
  eval: { load: async () => (await import('./commands/eval.ts')).evalCommand, summary: 'eval [--model DIR] [--datasets DIR] [--json] [--out FILE]   score a model on held-out data' },
  serve: { load: async () => (await import('./commands/serve.ts')).serveCommand, summary: 'serve [--port 8080] [--host 127.0.0.1] [--data DIR] [--model DIR]   HTTP API and web page' },
  train: { load: async () => (await import('./commands/train.ts')).trainCommand, summary: 'train CONFIG.json [--out DIR] [--resume]   train the unified model (configs/default.json reproduces the shipped one); train --catalog DIR --head NAME --from category|attributes.NAME --out DIR [--model BASE] [--replace]   add a head learnt from the catalog\'s labels' },
};

export function usage(): string {
  return ['usage: groknet <command> [options]', '', 'commands:', ...Object.values(COMMANDS).map((c) => `  ${c.summary}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest[0] && COMMANDS[rest[0]]) return main([rest[0], '--help']);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`groknet: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  // `groknet <command> --help` (or `help <command>`) prints that command's line rather than failing on an unknown option.
  // Only before `--`: after it, `--help` is an operand (a file of that name).
  const end = rest.indexOf('--');
  const options = end < 0 ? rest : rest.slice(0, end);
  if (options.includes('--help') || options.includes('-h')) {
    process.stdout.write(`usage: groknet ${command.summary}\n`);
    return 0;
  }
  try {
    // Inside the try: a module that fails to load is reported as the command's error.
    const run = await command.load();
    return await run(rest);
  } catch (error) {
    const known = isGroknetError(error) ? error : undefined;
    process.stderr.write(`groknet ${name}: ${known ? `${known.message} [${known.code}]` : (error as Error).message}\n`);
    if (process.env.GROKNET_DEBUG && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
    return known?.code === 'invalid_argument' ? 2 : 1;
  }
}

export { GroknetError };
