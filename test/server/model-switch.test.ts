// Switching the served model without a restart (POST /v1/admin/model, SIGHUP) and the
// background reindex (POST /v1/admin/reindex), over two tiny models with one embedding:
// v2 is v1 with one more head.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openCatalog } from '../../src/catalog/index.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import type { Analyzer } from '../../src/model/types.ts';
import { headOutputName } from '../../src/model/heads/heads-graph.ts';
import { parseModel, serializeModel } from '../../src/model/onnx/graph-builder.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { buildApp, type App } from '../../src/server/app.ts';
import { startCli } from '../helpers/cli.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError, multipart } from './helpers/http.ts';
import { TEST_KEY } from './helpers/server.ts';

const V1 = 'tiny-colour@0.0.1';
const V2 = 'tiny-colour@0.0.2';
const SHADES = ['light_red', 'light_green', 'light_blue', 'light_yellow', 'dark', 'pale'];

/**
 * v1 with a second head `shade` (an output copying the colour head's, under new labels) and
 * version 0.0.2: the same graph otherwise, so the same embedding and codes.
 */
async function withExtraHead(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
  const file = path.join(to, 'model.json');
  const manifest = JSON.parse(await readFile(file, 'utf8')) as { version: string; modelFile: string; heads: Array<Record<string, unknown>> };
  const graphFile = path.join(to, manifest.modelFile);
  const model = parseModel(await readFile(graphFile));
  const graph = model.graph!;
  const colour = graph.output!.find((o) => o.name === headOutputName('colour'))!;
  graph.node!.push({ opType: 'Identity', input: [colour.name!], output: [headOutputName('shade')], name: 'shade_head' });
  graph.output!.push({ ...colour, name: headOutputName('shade') });
  await writeFile(graphFile, serializeModel(graph));
  manifest.version = '0.0.2';
  manifest.heads.push({ ...manifest.heads[0], name: 'shade', output: headOutputName('shade'), labels: SHADES });
  await writeFile(file, JSON.stringify(manifest));
}

/** An analyzer that stops inside analyzeBuffers while `hold` is set, until `release()`. */
function gated(inner: Analyzer) {
  let entered!: () => void;
  let release!: () => void;
  const state = {
    hold: false,
    closed: false,
    entered: new Promise<void>((resolve) => (entered = resolve)),
    released: new Promise<void>((resolve) => (release = resolve)),
    release: () => release(),
  };
  const analyzer: Analyzer = {
    modelVersion: inner.modelVersion,
    exactMatchThreshold: inner.exactMatchThreshold,
    embeddingDim: inner.embeddingDim,
    async analyzeBuffers(images) {
      if (state.hold) {
        entered();
        await state.released;
      }
      return inner.analyzeBuffers(images);
    },
    async close() {
      state.closed = true;
      await inner.close();
    },
  };
  return { analyzer, state };
}

/** Same dimension, other vectors: the embedding reversed. */
function skewed(inner: Analyzer): Analyzer {
  return {
    modelVersion: 'tiny-colour@9.9.9',
    exactMatchThreshold: inner.exactMatchThreshold,
    embeddingDim: inner.embeddingDim,
    async analyzeBuffers(images) {
      const results = await inner.analyzeBuffers(images);
      return results.map((r) => ('embedding' in r ? { ...r, embedding: Float32Array.from(r.embedding).reverse() } : r));
    },
    close: () => inner.close(),
  };
}

let root: string;
let dataDir: string;
let modelsDir: string;
let v1Dir: string;
let v2Dir: string;
let catalog: CatalogStore;
let app: App;
let gate: ReturnType<typeof gated>['state'];
const auth = { authorization: `Bearer ${TEST_KEY}` };

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'groknet-model-switch-'));
  dataDir = path.join(root, 'data');
  modelsDir = path.join(dataDir, 'models');
  await mkdir(modelsDir, { recursive: true });
  v1Dir = (await createTinyModel(path.join(modelsDir, 'v1'))).dir;
  v2Dir = path.join(modelsDir, 'v2');
  await withExtraHead(v1Dir, v2Dir);
  await cp(v1Dir, path.join(modelsDir, 'skewed'), { recursive: true });
  await mkdir(path.join(modelsDir, 'broken'));
  await writeFile(path.join(modelsDir, 'broken', 'model.json'), '{ not json');
  const first = gated(await ModelAnalyzer.open(v1Dir, { batchSize: 8 }));
  gate = first.state;
  catalog = await openCatalog(dataDir, { embeddingDim: first.analyzer.embeddingDim });
  app = await buildApp({
    analyzer: first.analyzer,
    catalog,
    models: {
      load: async (dir) => {
        const opened = await ModelAnalyzer.open(dir, { batchSize: 8 });
        return path.basename(dir) === 'skewed' ? skewed(opened) : opened;
      },
      path: v1Dir,
      ownsAnalyzer: true,
    },
    config: { dataDir, apiKey: TEST_KEY, rateLimitPerMinute: 0, web: false, inference: { maxBatch: 8 } },
  });
});

after(async () => {
  await app?.close();
  await catalog?.close();
  await rm(root, { recursive: true, force: true });
});

async function analyze(colour: keyof typeof TINY_COLOURS) {
  return app.inject({ method: 'POST', url: '/v1/analyze', payload: await solidImage(TINY_COLOURS[colour]!), headers: { 'content-type': 'image/png' } });
}

function switchTo(dir: string, headers: Record<string, string> = auth) {
  return app.inject({ method: 'POST', url: '/v1/admin/model', payload: { path: dir }, headers });
}

describe('model switch', () => {
  test('products published with v1 (reindexed later)', async () => {
    for (const colour of ['red', 'blue', 'green'] as const) {
      const body = await multipart({ id: `p_${colour}`, title: `${colour} tee` }, [{ data: await solidImage(TINY_COLOURS[colour]!) }]);
      const res = await app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, ...auth } });
      assert.equal(res.statusCode, 201, res.body);
    }
  });

  test('without the write key the switch is refused; a path outside the models dir too', async () => {
    assertError(await switchTo(v2Dir, {}), 401, 'unauthorized');
    assertError(await switchTo(v2Dir, { authorization: 'Bearer wrong' }), 401, 'unauthorized');
    assertError(await switchTo(root), 400, 'path_outside_root');
    assertError(await switchTo(path.join(modelsDir, '..', '..')), 400, 'path_outside_root');
    assertError(await switchTo(path.join(modelsDir, 'nothing-here')), 404, 'file_not_found');
    assert.equal((await analyze('red')).json().modelVersion, V1);
  });

  test('a broken model dir leaves v1 serving, with a clear error', async () => {
    const error = assertError(await switchTo(path.join(modelsDir, 'broken')), 400, 'invalid_argument');
    assert.match(error.message, /could not be loaded .*still serving tiny-colour@0\.0\.1/);
    assert.equal((await analyze('red')).json().modelVersion, V1);
  });

  test('a model with another embedding is refused: the stored vectors would be invalid', async () => {
    const error = assertError(await switchTo('skewed'), 409, 'model_mismatch');
    assert.match(error.message, /other embeddings .*stored vectors would be invalid/);
    assert.equal((await app.inject({ url: '/readyz' })).json().modelVersion, V1);
  });

  test('a request started before the switch finishes on v1; v1 closes after it', async () => {
    gate.hold = true;
    const held = analyze('red');
    await gate.entered;
    gate.hold = false;
    const switched = await switchTo('v2');
    assert.equal(switched.statusCode, 200, switched.body);
    assert.equal(switched.json().modelVersion, V2);
    assert.equal(switched.json().previous, V1);
    // The held request's batch occupies the queue (one run at a time): the next one waits behind it.
    const next = analyze('blue');
    assert.equal(gate.closed, false, 'v1 stays open while a request uses it');
    gate.release();
    const old = (await held).json();
    assert.equal(old.modelVersion, V1);
    assert.equal(old.heads.shade, undefined);
    const fresh = (await next).json();
    assert.equal(fresh.modelVersion, V2);
    assert.ok(fresh.heads.shade, 'v2 answers with its new head');
    assert.equal(gate.closed, true, 'v1 closed after its last request');
  });

  test('readyz and metrics report the version served and the switches', async () => {
    const ready = (await app.inject({ url: '/readyz' })).json();
    assert.equal(ready.modelVersion, V2);
    assert.deepEqual({ name: ready.model.name, version: ready.model.version, switches: ready.model.switches }, { name: 'tiny-colour', version: '0.0.2', switches: 1 });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /groknet_model_info\{model_version="tiny-colour@0\.0\.2"\} 1/);
    assert.match(metrics, /groknet_model_switches_total 1/);
  });

  test('switching under load: no request fails, each answer is one version', async () => {
    const colours = Object.keys(TINY_COLOURS) as Array<keyof typeof TINY_COLOURS>;
    const requests = Array.from({ length: 48 }, (_, i) => analyze(colours[i % colours.length]!));
    // Switches run one at a time in the order the server takes them, which concurrent requests
    // need not keep: the one that finishes last names the model served after them.
    const finished: string[] = [];
    const switches = ['v1', 'v2', 'v1'].map((dir) => switchTo(dir).then((res) => (finished.push(res.json().modelVersion), res)));
    const more = Array.from({ length: 48 }, (_, i) => analyze(colours[i % colours.length]!));
    const answers = await Promise.all([...requests, ...more]);
    for (const res of await Promise.all(switches)) assert.equal(res.statusCode, 200, res.body);
    const seen = new Set<string>();
    for (const res of answers) {
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      seen.add(body.modelVersion);
      // One version per answer: v2's answers have its extra head, v1's do not.
      assert.equal(Boolean(body.heads.shade), body.modelVersion === V2, JSON.stringify(body));
    }
    assert.ok([...seen].every((v) => v === V1 || v === V2));
    assert.equal(finished.length, 3);
    assert.equal((await analyze('red')).json().modelVersion, finished.at(-1));
    assert.equal((await switchTo('v2')).statusCode, 200);
  });

  test('background reindex fills the new head while search answers; its filter works after', async () => {
    assertError(await app.inject({ method: 'POST', url: '/v1/admin/reindex' }), 401, 'unauthorized');
    const before = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'tee', filters: { shade: 'dark' } } });
    assert.match(assertError(before, 400, 'query_invalid').message, /shade/, 'shade is not a filter before the reindex');
    const started = await app.inject({ method: 'POST', url: '/v1/admin/reindex', headers: auth });
    assert.equal(started.statusCode, 202, started.body);
    assert.equal(started.json().state, 'running');
    assert.equal(started.json().modelVersion, V2);
    // Search answers while it runs (from the old table).
    const during = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'tee' } });
    assert.equal(during.statusCode, 200, during.body);
    assert.equal(during.json().results.length, 3);
    let progress = started.json();
    // Poll, yielding to I/O between reads (inject alone never gives the store's callbacks a turn).
    while (progress.state === 'running') {
      await new Promise((resolve) => setImmediate(resolve));
      progress = (await app.inject({ url: '/v1/admin/reindex' })).json();
    }
    assert.equal(progress.state, 'done', JSON.stringify(progress));
    assert.equal(progress.swapped, true);
    assert.equal(progress.reindexed, 3);
    assert.equal(progress.total, 3);
    const product = (await app.inject({ url: '/v1/products/p_red' })).json();
    assert.equal(product.modelVersion ?? V2, V2);
    const red = (await analyze('red')).json().heads.shade.top[0].label as string;
    assert.equal(red, 'light_red');
    const filtered = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'tee', filters: { shade: red } } });
    assert.equal(filtered.statusCode, 200, filtered.body);
    const ids = filtered.json().results.map((r: { productId?: string; id?: string }) => r.productId ?? r.id);
    assert.ok(ids.includes('p_red'), filtered.body);
    assert.ok(ids.length < 3, `the shade filter narrows: ${filtered.body}`);
    // Publishing works again with v2 now that the catalog holds it.
    const body = await multipart({ id: 'p_yellow', title: 'yellow tee' }, [{ data: await solidImage(TINY_COLOURS.yellow!) }]);
    const published = await app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, ...auth } });
    assert.equal(published.statusCode, 201, published.body);
  });
});

test('SIGHUP reloads the --model directory of a spawned server', async () => {
  const dir = path.join(root, 'sighup');
  const modelDir = path.join(dir, 'model');
  await cp(v1Dir, modelDir, { recursive: true });
  const serve = startCli(['serve', '--model', modelDir, '--data', path.join(dir, 'data'), '--port', '0', '--no-detect', '--no-segment', '--allow-anonymous-writes'], {
    ...process.env,
    GROKNET_SOURCES: '1',
  });
  try {
    await serve.waitFor('stdout', /serving tiny-colour@0\.0\.1 .* on (http:\/\/\S+)/);
    const address = /on (http:\/\/\S+)/.exec(serve.stdout())![1]!;
    await rm(modelDir, { recursive: true });
    await withExtraHead(v1Dir, modelDir);
    serve.child.kill('SIGHUP');
    await serve.waitFor('stderr', /SIGHUP: now serving tiny-colour@0\.0\.2 \(was tiny-colour@0\.0\.1\)/);
    const ready = (await (await fetch(`${address}/readyz`)).json()) as { modelVersion: string };
    assert.equal(ready.modelVersion, V2);
    // A broken directory: SIGHUP keeps the served model and says why.
    await writeFile(path.join(modelDir, 'model.json'), '{ broken');
    serve.child.kill('SIGHUP');
    await serve.waitFor('stderr', /SIGHUP: still serving tiny-colour@0\.0\.2: .*could not be loaded/);
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
});
