// What may import what in groknet (issue #28), checked by `npm run lint:deps` in CI after
// the typecheck, and by test/architecture/dependency-rules.test.ts.
//
// The layers, lowest first (README, "Architecture" > "Layers"). A module imports its own layer and the
// layers below it, never one above; modules on the same row do not import each other.
//
//    1  errors       src/errors.ts
//    2  util         src/util/
//    3  image        src/image/
//    4  model        src/model/
//    5  engines      src/detect/  src/segment/  src/catalog/
//    6  search       src/search/
//    7  tasks        src/pipelines/  src/train/
//    8  ingest       src/ingest/
//    9  queue        src/queue/
//   10  server       src/server/
//   11  entries      src/cli/  src/index.ts
//
// So, among others: src/train never imports src/cli, src/catalog never imports
// src/pipelines, and src/server and src/cli are imported by no lower layer. A new top-level
// folder or file in src/ has to be given a row here before anything imports it or it imports
// anything. Long library work reports progress through a callback (src/util/progress.ts), so
// training and evaluation never need the CLI's progress bar.
'use strict';
const path = require('node:path');

// dependency-cruiser 17 reads TypeScript through the `typescript` package below version 7 or
// through @swc/core. This project type-checks with TypeScript 7, which has no compiler API
// for it, so the files are parsed with swc; without @swc/core the cruise would skip every
// .ts file and report no violation at all, so stop here instead.
try {
  require.resolve('@swc/core');
} catch {
  throw new Error('dependency-cruiser needs @swc/core (a devDependency) to read .ts files: run npm ci');
}

/** @type {Array<{ name: string, paths: string[], why: string }>} */
const LAYERS = [
  { name: 'errors', paths: ['src/errors.ts'], why: 'the error codes users see, raised everywhere' },
  { name: 'util', paths: ['src/util/'], why: 'small helpers with no idea of images or models' },
  { name: 'image', paths: ['src/image/'], why: 'decoding and preprocessing photos, for every model' },
  { name: 'model', paths: ['src/model/'], why: 'the ONNX model and its manifest, whatever task runs it' },
  {
    name: 'engines',
    paths: ['src/detect/', 'src/segment/', 'src/catalog/'],
    why: 'the detectors, the segmentation runtime and the catalog store: each stands on the image and model layers and knows nothing of the tasks using it',
  },
  { name: 'search', paths: ['src/search/'], why: 'queries over the catalog store' },
  {
    name: 'tasks',
    paths: ['src/pipelines/', 'src/train/'],
    why: 'task pipelines over a loaded model, and the trainer that makes the model: neither needs the other, and the trainer reaches its users through callbacks, not the CLI',
  },
  { name: 'ingest', paths: ['src/ingest/'], why: 'publishing listings: pipelines into the catalog, for the server, the CLI and the queue worker' },
  { name: 'queue', paths: ['src/queue/'], why: 'BullMQ workers running ingest; the CLI starts them' },
  { name: 'server', paths: ['src/server/'], why: 'the HTTP API; only the CLI (groknet serve) starts it' },
  { name: 'entries', paths: ['src/cli/', 'src/index.ts'], why: 'the groknet command and the library entry: what users call, imported by nothing in src' },
];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A path prefix as a regular expression: a folder matches its files, a file matches itself. */
const pattern = (prefix) => `^${escape(prefix)}${prefix.endsWith('/') ? '' : '$'}`;

/** One rule per member of a row: it may import only its own module group and the rows below. */
const layerRules = LAYERS.flatMap((layer, row) => {
  const below = LAYERS.slice(0, row).flatMap((lower) => lower.paths);
  return layer.paths.map((own) => ({
    name: `layer-${own.replace(/^src\//, '').replace(/(\.ts|\/)$/, '')}`,
    comment: `${own} (row ${row + 1}, ${layer.name}: ${layer.why}) imports only itself and the rows below: ${below.join(' ') || 'none'}`,
    severity: 'error',
    from: { path: pattern(own) },
    to: { path: '^src/', pathNot: [own, ...below].map(pattern) },
  }));
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'a cycle makes its modules one unit: none can be read, tested or moved alone, and ESM may run one of them before the other has initialised. Type-only imports count, as they do for a reader.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'src-in-a-layer',
      comment: 'every module in src/ belongs to a row of LAYERS in .dependency-cruiser.cjs, so a new folder is placed deliberately rather than by its first import',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.flatMap((layer) => layer.paths).map(pattern) },
      to: {},
    },
    {
      name: 'src-not-to-dev-code',
      comment: 'src/ is what the package ships; test/, bench/ and scripts/ use it and are not shipped',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'src-not-to-web',
      comment: 'web/src is the browser page, built on its own; the server serves its files and never imports them',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^web/' },
    },
    {
      name: 'not-to-dev-dependency',
      comment: 'an installed groknet has no devDependencies: shipped code importing one fails for users only',
      severity: 'error',
      from: { path: '^(src|web/src)/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import the resolver cannot follow is one no rule here checks',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-orphans',
      comment: 'a module nothing imports and that imports nothing is dead code or a forgotten entry point. Known entry points used from outside src: src/cli/stdout.ts (bin/groknet.js) and src/util/crc32.ts (scripts and tests write PNG checksums with it).',
      severity: 'error',
      from: { orphan: true, pathNot: ['\\.d\\.ts$', '^src/cli/stdout\\.ts$', '^src/util/crc32\\.ts$'] },
      to: {},
    },
  ],
  options: {
    // swc records every import, type-only ones included; see the check at the top.
    parser: 'swc',
    tsPreCompilationDeps: true,
    // Imports name their .ts files, so they resolve as written; the tsconfig is read for its
    // paths where a TypeScript below 7 is installed. Absolute, so the rules' test can cruise
    // a fixture folder with this configuration.
    tsConfig: { fileName: path.join(__dirname, 'tsconfig.json') },
    doNotFollow: { path: 'node_modules' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
