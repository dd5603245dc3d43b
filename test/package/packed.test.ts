// groknet as another project gets it: `npm pack` (which builds dist/ through `prepare`), the
// tarball installed into a new project, then the library imported from plain JavaScript,
// its types checked from TypeScript, and the installed `groknet` command run.
//
// The install is offline, from npm's cache (what `npm ci` of this project filled). The
// cache holds the packages' tarballs, not the registry's version lists, so the new project
// gets a lockfile made from this project's own (its runtime packages, at the versions
// groknet is tested with, and its overrides) and `npm ci` installs that; a user's
// `npm install groknet` resolves the same ranges from the registry instead.
// Slow: about 1-2 minutes on 2 cores, most of it installing ~500 packages.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const TEN_MINUTES = 10 * 60_000;

interface LockEntry {
  dev?: boolean;
  [field: string]: unknown;
}

/** The environment of every child: no GROKNET_SOURCES (the installed command has no sources), no GPU download. */
function childEnv(): NodeJS.ProcessEnv {
  const { GROKNET_SOURCES: _sources, ...env } = process.env;
  return { ...env, CI: 'true', ONNXRUNTIME_NODE_INSTALL: 'skip' };
}

function run(command: string, args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: childEnv(), maxBuffer: 64 * 2 ** 20, timeout: TEN_MINUTES }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function mustRun(command: string, args: readonly string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} failed:\n${result.stderr.slice(-3000)}`);
  return result.stdout;
}

let work: { path: string; cleanup: () => Promise<void> };
let tarball: string;
let project: string;
let modelDir: string;
let codeHexDigits: number;
let photos: string;

before(
  async () => {
    work = await tempDir('groknet-packed-test-');
    await mustRun('npm', ['pack', '--pack-destination', work.path], REPO);
    const packed = (await readdir(work.path)).filter((name) => name.endsWith('.tgz'));
    assert.equal(packed.length, 1, `npm pack made ${packed.join(', ')}`);
    tarball = path.join(work.path, packed[0]!);

    project = path.join(work.path, 'consumer');
    await mkdir(project);
    const groknet = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as Record<string, unknown>;
    const lock = JSON.parse(await readFile(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const spec = `file:${tarball}`;
    const packages: Record<string, unknown> = {
      '': { name: 'consumer', dependencies: { groknet: spec } },
      'node_modules/groknet': { version: groknet.version, resolved: spec, dependencies: groknet.dependencies, bin: groknet.bin, engines: groknet.engines },
    };
    for (const [where, entry] of Object.entries(lock.packages)) if (where && !entry.dev) packages[where] = entry;
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { groknet: spec }, overrides: groknet.overrides }));
    await writeFile(path.join(project, 'package-lock.json'), JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }));
    await mustRun('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], project);

    const tiny = await createTinyModel(path.join(work.path, 'tiny-model'));
    modelDir = tiny.dir;
    codeHexDigits = tiny.manifest.embedding.codeBits / 4;
    photos = path.join(work.path, 'photos');
    await mkdir(photos);
    await writeFile(path.join(photos, 'red-mug.png'), await solidImage(TINY_COLOURS.red!));
    await writeFile(path.join(photos, 'blue-bowl.png'), await solidImage(TINY_COLOURS.blue!));
  },
  { timeout: 2 * TEN_MINUTES },
);
after(() => work?.cleanup());

test('the tarball holds the build, the command, the page and the models, not the sources', async () => {
  const files = new Set((await mustRun('tar', ['-tzf', tarball], work.path)).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, '')));
  for (const file of [
    'package.json',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'bin/groknet.js',
    'web/public/index.html',
    'web/src/main.ts',
    'models/groknet-base/model.json',
    'models/groknet-base/heads.onnx',
    'models/groknet-base/colour-pixels.json',
    'models/groknet-segment/model.json',
    'models/groknet-segment/decoder.onnx',
  ]) {
    assert.ok(files.has(file), `${file} is not in the tarball`);
  }
  assert.deepEqual([...files].filter((f) => /^(src|test|bench|scripts)\//.test(f)), []);
});

test('plain JavaScript imports the library: a model, a catalog, ingest, search and the errors', async () => {
  const script = `
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_MODEL_DIR, GroknetError, ModelAnalyzer, ingest, isGroknetError, openCatalog, searchByImage, searchCatalog } from 'groknet';

const [modelDir, photos, dataDir] = process.argv.slice(2);
const analyzer = await ModelAnalyzer.open(modelDir);
const [analysis] = await analyzer.analyzeBuffers([await readFile(path.join(photos, 'red-mug.png'))]);
const catalog = await openCatalog(dataDir, { embeddingDim: analyzer.embeddingDim });
const empty = await catalog.countProducts();
const summary = await ingest(photos, { catalog, analyzer });
const byPhoto = await searchByImage(catalog, analyzer, await readFile(path.join(photos, 'blue-bowl.png')));
const byWords = await searchCatalog({ catalog }, { text: 'mug', filters: {}, limit: 5 });
let missingModel;
try {
  await ModelAnalyzer.open(path.join(dataDir, 'no-model-here'));
} catch (error) {
  missingModel = { groknet: isGroknetError(error) && error instanceof GroknetError, code: error.code };
}
let deepImport;
try {
  await import('groknet/dist/errors.js');
} catch (error) {
  deepImport = error.code;
}
const require = createRequire(import.meta.url);
console.log(JSON.stringify({
  colour: analysis.heads.colour.top[0].label,
  codeLength: analysis.code.length,
  empty,
  indexed: summary.indexed,
  count: await catalog.countProducts(),
  ids: (await catalog.listProducts()).map((p) => p.id).sort(),
  byPhoto: byPhoto.results[0]?.id,
  byWords: byWords.results.map((r) => r.id),
  missingModel,
  deepImport,
  packageName: require('groknet/package.json').name,
  shippedModel: existsSync(path.join(DEFAULT_MODEL_DIR, 'model.json')) && existsSync(path.join(DEFAULT_MODEL_DIR, 'heads.onnx')),
  shippedModelInPackage: DEFAULT_MODEL_DIR.startsWith(path.join(process.cwd(), 'node_modules', 'groknet') + path.sep),
}));
await catalog.close();
await analyzer.close();
`;
  await writeFile(path.join(project, 'use.mjs'), script);
  const output = await mustRun(process.execPath, ['use.mjs', modelDir, photos, path.join(work.path, 'data')], project);
  assert.deepEqual(JSON.parse(output), {
    colour: 'red',
    codeLength: codeHexDigits,
    empty: 0,
    indexed: 2,
    count: 2,
    ids: ['blue-bowl', 'red-mug'],
    byPhoto: 'blue-bowl',
    byWords: ['red-mug'],
    missingModel: { groknet: true, code: 'model_not_found' },
    deepImport: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    packageName: 'groknet',
    shippedModel: true,
    shippedModelInPackage: true,
  });
});

test('TypeScript finds the types through the package: wrong uses are errors', async () => {
  const consumer = `
import { GroknetError, openCatalog, type CatalogStore, type ErrorCode, type SearchResponse } from 'groknet';

const code: ErrorCode = 'not_found';
// @ts-expect-error: not one of groknet's error codes
const notACode: ErrorCode = 'no_such_code';
const error: GroknetError = new GroknetError(code);
const open: (dir?: string) => Promise<CatalogStore> = openCatalog;
// @ts-expect-error: countProducts gives a number
const notAString: (catalog: CatalogStore) => Promise<string> = (catalog) => catalog.countProducts();
const firstId = (response: SearchResponse): string | undefined => response.results[0]?.id;
export { error, firstId, notACode, notAString, open };
`;
  await writeFile(path.join(project, 'consumer.ts'), consumer);
  const tsconfig = {
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, typeRoots: [path.join(REPO, 'node_modules', '@types')], types: ['node'] },
    files: ['consumer.ts'],
  };
  await writeFile(path.join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
  const result = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  // TypeScript 7 reads exports' `types` (and the .d.ts beside a top-level `types` when there are
  // no exports); TypeScript 5's node10 resolution and tools that ignore exports read `types`
  // alone: it must name the same declarations, shipped.
  const installed = path.join(project, 'node_modules', 'groknet');
  const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as { types?: string; exports?: Record<string, { types?: string }> };
  assert.equal(manifest.types, manifest.exports?.['.']?.types);
  assert.ok(manifest.types && existsSync(path.join(installed, manifest.types)), `types: ${manifest.types}`);
});

test('the installed groknet command runs the compiled build', async () => {
  const groknet = path.join(project, 'node_modules', '.bin', 'groknet');
  assert.ok(!existsSync(path.join(project, 'node_modules', 'groknet', 'src')));
  const help = await run(groknet, ['--help'], project);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: groknet <command>/);
  assert.equal(help.stderr, '');
  const analyze = await run(groknet, ['analyze', '--json', '--model', modelDir, path.join(photos, 'red-mug.png')], project);
  assert.equal(analyze.code, 0, analyze.stderr);
  assert.equal((JSON.parse(analyze.stdout) as { heads: { colour: { top: Array<{ label: string }> } } }).heads.colour.top[0]?.label, 'red');
});
