// How long the groknet command takes to start: `groknet --help` (loads the CLI and nothing
// else) and `groknet analyze ONE.jpg` (opens the shipped model and analyses one small
// photo), each as a fresh process, through the compiled build (dist/, what `npm ci` and an
// installed package run) and through the sources (GROKNET_SOURCES=1: tsx compiles src/ at
// every start, what the tests run). Median and 90th percentile of --runs runs, after one
// untimed run of each (the model's converted graph is then in the cache, as for a user's
// second command).
// Run: node --import tsx bench/cli-start.ts [--runs 10] [--bin PATH] [--print]
//   --bin: another checkout's bin/groknet.js (e.g. the code before a change), timed as it runs
//   --print: print the section instead of writing BENCHMARKS.md
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, bin: { type: 'string' }, print: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
const ownBin = fileURLToPath(new URL('../bin/groknet.js', import.meta.url));
const bin = values.bin ? path.resolve(values.bin) : ownBin;
if (!values.bin && !existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)))) {
  throw new Error('dist/ is not built: run `npm run build` first');
}

const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-cli-start-'));
const photo = path.join(work, 'ONE.jpg');
await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 200, g: 40, b: 40 } } }).jpeg().toFile(photo);

interface Timing {
  median: number;
  p90: number;
}

/** Milliseconds per start of `node BIN ...args`: median and 90th percentile of `runs` runs after one untimed run. */
function timeStarts(args: readonly string[], env: NodeJS.ProcessEnv): Timing {
  const once = (): number => {
    const start = performance.now();
    const result = spawnSync(process.execPath, [bin, ...args], { env: { ...env, CI: 'true' }, encoding: 'utf8' });
    const elapsed = performance.now() - start;
    if (result.status !== 0) throw new Error(`groknet ${args.join(' ')} exited ${result.status ?? result.signal}: ${result.stderr.slice(-500)}`);
    return elapsed;
  };
  once();
  const times = Array.from({ length: runs }, once).sort((a, b) => a - b);
  return { median: times[Math.floor((times.length - 1) / 2)]!, p90: times[Math.ceil(times.length * 0.9) - 1]! };
}

const { GROKNET_SOURCES: _sources, ...userEnv } = process.env;
const variants: Array<{ name: string; env: NodeJS.ProcessEnv }> = values.bin
  ? [{ name: `\`${values.bin}\``, env: userEnv }]
  : [
      { name: 'compiled (dist/)', env: userEnv },
      { name: 'sources through tsx (GROKNET_SOURCES=1)', env: { ...userEnv, GROKNET_SOURCES: '1' } },
    ];
const commands: Array<{ label: string; args: string[] }> = [
  { label: '`groknet --help`', args: ['--help'] },
  { label: '`groknet analyze ONE.jpg`', args: ['analyze', photo] },
];

const rows: string[] = [];
// On a shared machine the figures depend on what else runs: the load is part of the result.
const loadBefore = os.loadavg()[0]!;
try {
  for (const variant of variants) {
    for (const command of commands) {
      const t = timeStarts(command.args, variant.env);
      rows.push(`| ${command.label} | ${variant.name} | ${t.median.toFixed(0)} | ${t.p90.toFixed(0)} |`);
      process.stderr.write(`${rows[rows.length - 1]}\n`);
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
const loadAfter = os.loadavg()[0]!;

const section = `## CLI start (issue #28)

Command: \`npm run bench -- cli-start\` (\`node --import tsx bench/cli-start.ts --runs ${runs}\`), after \`npm run build\`. Machine: ${machine()}; load average (1 min) ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end.
Each command is a fresh \`node bin/groknet.js ...\` process (spawnSync, CI=true), timed from spawn to exit: the median and 90th percentile of ${runs} runs after one untimed run. ONE.jpg is a 320x240 JPEG; analyze opens the shipped model (its converted graph already cached) and prints the table.

| command | what runs | median (ms) | p90 (ms) |
|---|---|---|---|
${rows.join('\n')}
`;

if (values.print) process.stdout.write(section);
else await writeSection('cli-start', section);
