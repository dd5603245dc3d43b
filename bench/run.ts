// `npm run bench`: every benchmark in turn, each writing its section of BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const benches = (process.argv.slice(2).length ? process.argv.slice(2) : ['analyze', 'detect', 'segment', 'catalog', 'http', 'vector-search', 'train-throughput', 'trunk-step', 'pseudolabel', 'cli-start', 'catalog-head', 'text-search', 'exact-badge']).map((name) => fileURLToPath(new URL(`./${name}.ts`, import.meta.url)));
let failed = 0;
for (const file of benches) {
  process.stderr.write(`\n== ${file}\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
