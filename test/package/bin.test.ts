// bin/groknet.js picks what it runs: the compiled dist/ when it is built, src/ through tsx
// when GROKNET_SOURCES=1 (what the tests set) or when there is no dist/ (a checkout before
// a build, with a hint), and a clear failure with neither. Checked on a copy of the bin
// beside stand-in CLIs that say which one ran and whether the output guard came first.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A stand-in CLI: main() prints which tree it came from, its argv and whether guardOutputStreams() ran before it. */
function standInMain(tree: string): string {
  return `export async function main(argv) {
  process.stdout.write(JSON.stringify({ ran: '${tree}', argv, guarded: globalThis.guardedBeforeMain === true }) + '\\n');
  return 3;
}
`;
}
const STAND_IN_STDOUT = 'export function guardOutputStreams() { globalThis.guardedBeforeMain = true; }\n';

let dir: { path: string; cleanup: () => Promise<void> };
let bin: string;

before(async () => {
  dir = await tempDir('groknet-bin-test-');
  await mkdir(path.join(dir.path, 'bin'));
  bin = path.join(dir.path, 'bin', 'groknet.js');
  await copyFile(path.join(REPO, 'bin', 'groknet.js'), bin);
  await writeFile(path.join(dir.path, 'package.json'), JSON.stringify({ type: 'module' }));
  // tsx, for the sources' path, from the project's own install.
  await symlink(path.join(REPO, 'node_modules'), path.join(dir.path, 'node_modules'));
  await mkdir(path.join(dir.path, 'src', 'cli'), { recursive: true });
  await writeFile(path.join(dir.path, 'src', 'cli', 'main.ts'), standInMain('src'));
  await writeFile(path.join(dir.path, 'src', 'cli', 'stdout.ts'), STAND_IN_STDOUT);
});
after(() => dir.cleanup());

async function writeDist(): Promise<void> {
  await mkdir(path.join(dir.path, 'dist', 'cli'), { recursive: true });
  await writeFile(path.join(dir.path, 'dist', 'cli', 'main.js'), standInMain('dist'));
  await writeFile(path.join(dir.path, 'dist', 'cli', 'stdout.js'), STAND_IN_STDOUT);
}

function runBin(env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  // Whatever the test process was given, only `env` decides here.
  const { GROKNET_SOURCES: _sources, ...base } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'analyze', '--json', 'x.jpg'], { env: { ...base, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('with dist/ built, the compiled CLI runs, its output guarded first, with the arguments and its exit status', async () => {
  await writeDist();
  const run = await runBin();
  assert.deepEqual(JSON.parse(run.stdout), { ran: 'dist', argv: ['analyze', '--json', 'x.jpg'], guarded: true });
  assert.equal(run.code, 3);
  assert.equal(run.stderr, '');
});

test('GROKNET_SOURCES=1 runs the sources through tsx even when dist/ is built, without a hint', async () => {
  await writeDist();
  const run = await runBin({ GROKNET_SOURCES: '1' });
  assert.deepEqual(JSON.parse(run.stdout), { ran: 'src', argv: ['analyze', '--json', 'x.jpg'], guarded: true });
  assert.equal(run.code, 3);
  assert.equal(run.stderr, '');
});

test('without dist/, the sources run through tsx and one line on stderr says how to build', async () => {
  await rm(path.join(dir.path, 'dist'), { recursive: true, force: true });
  const run = await runBin();
  assert.deepEqual(JSON.parse(run.stdout), { ran: 'src', argv: ['analyze', '--json', 'x.jpg'], guarded: true });
  assert.equal(run.code, 3);
  assert.match(run.stderr, /^groknet: dist\/ is not built.*`npm run build`.*\n$/);
});

test('with neither dist/ nor src/ (a broken install), it fails saying so', async () => {
  await rm(path.join(dir.path, 'dist'), { recursive: true, force: true });
  await rm(path.join(dir.path, 'src'), { recursive: true, force: true });
  try {
    const run = await runBin();
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /dist\/cli\/main\.js is missing: reinstall groknet/);
  } finally {
    await mkdir(path.join(dir.path, 'src', 'cli'), { recursive: true });
    await writeFile(path.join(dir.path, 'src', 'cli', 'main.ts'), standInMain('src'));
    await writeFile(path.join(dir.path, 'src', 'cli', 'stdout.ts'), STAND_IN_STDOUT);
  }
});
