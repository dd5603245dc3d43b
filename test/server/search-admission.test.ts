// Admission control for search (src/server/search-admission.ts): at most `maxConcurrent`
// catalog queries run, at most `maxQueue` wait, the rest get 429 `overloaded` with
// Retry-After, like the inference queue. A search port that can be held makes it
// deterministic: no catalog, no model.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { GroknetError } from '../../src/errors.ts';
import type { Analyzer } from '../../src/model/types.ts';
import { buildApp, type App } from '../../src/server/app.ts';
import type { SearchAdmissionSettings } from '../../src/server/config.ts';
import { createServiceMetrics } from '../../src/server/metrics.ts';
import { AdmissionGate } from '../../src/server/search-admission.ts';
import type { SearchRequest, SearchService } from '../../src/server/search-port.ts';
import type { SearchResponse } from '../../src/search/types.ts';
import { assertError } from './helpers/http.ts';

const analyzer: Analyzer = {
  modelVersion: 'stub@1',
  exactMatchThreshold: 0.9,
  embeddingDim: 4,
  async analyzeBuffers() {
    throw new Error('no model in these tests');
  },
  async close() {},
};

/** A store that answers only when released; `fail` makes a query throw instead. */
function heldSearch(fail?: (request: SearchRequest) => boolean) {
  let waiters: Array<() => void> = [];
  let open = false;
  const service: SearchService & { calls: number; running: number; release(): void; hold(): void } = {
    calls: 0,
    running: 0,
    release() {
      open = true;
      for (const wake of waiters) wake();
      waiters = [];
    },
    hold() {
      open = false;
    },
    async search(request: SearchRequest): Promise<SearchResponse> {
      service.calls++;
      service.running++;
      try {
        if (!open) await new Promise<void>((resolve) => waiters.push(resolve));
        if (fail?.(request)) throw new Error('lance: IO error at /srv/data/catalog.lance');
        return { query: { kind: 'text', text: request.text ?? '', filters: request.filters, terms: [], limit: request.limit }, results: [], facets: {} };
      } finally {
        service.running--;
      }
    },
  };
  return service;
}

const until = async (condition: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const dataDirs: string[] = [];
after(async () => {
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

async function appWith(search: SearchService, admission?: SearchAdmissionSettings, catalog?: CatalogStore): Promise<App> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'groknet-search-admission-'));
  dataDirs.push(dataDir);
  return buildApp({ analyzer, search, ...(catalog ? { catalog } : {}), config: { dataDir, web: false, rateLimitPerMinute: 0, ...(admission ? { search: admission } : {}) } });
}

const textSearch = (app: App, text = 'red shirt') => app.inject({ method: 'POST', url: '/v1/search', payload: { text } });

function metric(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('AdmissionGate', () => {
  test('runs at most maxConcurrent, queues at most maxQueue in order, refuses the rest with a Retry-After', async () => {
    const metrics = createServiceMetrics();
    const gate = new AdmissionGate({ maxConcurrent: 1, maxQueue: 1 }, metrics.searchRejected);
    const order: string[] = [];
    let release!: () => void;
    const first = gate.run(() => new Promise<string>((resolve) => (release = () => resolve('first'))).then((v) => (order.push(v), v)));
    const second = gate.run(async () => (order.push('second'), 'second'));
    assert.equal(gate.running, 1);
    assert.equal(gate.queued, 1);
    await assert.rejects(gate.run(async () => 'third'), (e: unknown) => e instanceof GroknetError && e.code === 'overloaded' && (e.retryAfterSeconds ?? 0) >= 1);
    assert.throws(() => gate.checkRoom(), (e: unknown) => e instanceof GroknetError && e.code === 'overloaded');
    assert.equal(metrics.searchRejected.get({ reason: 'queue_full' }), 2);
    release();
    assert.deepEqual(await Promise.all([first, second]), ['first', 'second']);
    assert.deepEqual(order, ['first', 'second']);
    assert.equal(gate.running, 0);
    assert.equal(gate.queued, 0);
    gate.checkRoom();
  });

  test('a failing query gives its slot back; maxConcurrent 0 turns the gate off; bad settings are refused', async () => {
    const gate = new AdmissionGate({ maxConcurrent: 1, maxQueue: 0 });
    await assert.rejects(gate.run(async () => Promise.reject(new Error('store down'))), /store down/);
    assert.equal(gate.running, 0);
    assert.equal(await gate.run(async () => 'ok'), 'ok');

    const off = new AdmissionGate({ maxConcurrent: 0, maxQueue: 0 });
    const releases: Array<() => void> = [];
    const held = Array.from({ length: 5 }, () => off.run(() => new Promise<void>((r) => releases.push(r))));
    assert.equal(releases.length, 5, 'all five run at once when admission control is off');
    assert.equal(off.running, 0);
    for (const release of releases) release();
    await Promise.all(held);
    for (const bad of [{ maxConcurrent: -1, maxQueue: 1 }, { maxConcurrent: 1.5, maxQueue: 1 }, { maxConcurrent: 1, maxQueue: Number.NaN }]) {
      assert.throws(() => new AdmissionGate(bad), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_config');
    }
  });
});

describe('POST /v1/search under load (bound 1, waiting line 1, a slow store)', () => {
  test('requests beyond the bound get 429 overloaded with Retry-After; the admitted ones succeed', async () => {
    const store = heldSearch();
    const app = await appWith(store, { maxConcurrent: 1, maxQueue: 1 });
    const responses: LightMyRequestResponse[] = [];
    const pending = Array.from({ length: 5 }, () => textSearch(app).then((res) => (responses.push(res), res)));
    // One query runs in the store, one waits; the other three are answered at once.
    await until(() => responses.length === 3, 'the refusals');
    assert.equal(store.calls, 1, 'only one query reached the store');
    for (const refused of responses) {
      assertError(refused, 429, 'overloaded');
      assert.match(String(refused.headers['retry-after']), /^[1-9]\d*$/);
    }
    const scrape = (await app.inject('/metrics')).body;
    assert.equal(metric(scrape, 'groknet_search_running'), 1);
    assert.equal(metric(scrape, 'groknet_search_queue_depth'), 1);
    assert.equal(metric(scrape, 'groknet_search_rejected_total{reason="queue_full"}'), 3);
    assert.equal(metric(scrape, 'groknet_http_errors_total{code="overloaded"}'), 3);

    store.release();
    const all = await Promise.all(pending);
    assert.deepEqual(all.map((r) => r.statusCode).sort(), [200, 200, 429, 429, 429]);
    assert.equal(store.calls, 2);
    assert.equal(store.running, 0);
    // The slots were given back: later requests are admitted again.
    assert.equal((await textSearch(app)).statusCode, 200);
    const after = (await app.inject('/metrics')).body;
    assert.equal(metric(after, 'groknet_search_running'), 0);
    assert.equal(metric(after, 'groknet_search_queue_depth'), 0);
    await app.close();
  });

  test('a failing store query answers its own error and frees its slot for the next request', async () => {
    const store = heldSearch((request) => request.text === 'boom');
    const app = await appWith(store, { maxConcurrent: 1, maxQueue: 0 });
    store.release();
    assertError(await textSearch(app, 'boom'), 500, 'internal');
    assertError(await textSearch(app, 'boom'), 500, 'internal');
    // Had a failure leaked the only slot, this would be 429.
    assert.equal((await textSearch(app, 'fine')).statusCode, 200);
    await app.close();
  });

  test('the default bound admits ordinary concurrency without refusals', async () => {
    const store = heldSearch();
    const app = await appWith(store);
    const pending = Array.from({ length: 40 }, () => textSearch(app));
    await until(() => store.calls === 8, 'eight running queries');
    store.release();
    const statuses = (await Promise.all(pending)).map((r) => r.statusCode);
    assert.deepEqual(new Set(statuses), new Set([200]));
    await app.close();
  });

  test('similar and seen-together pass the same gate', async () => {
    const store = heldSearch();
    let catalogHeld: Promise<void> | undefined;
    let releaseCatalog!: () => void;
    const product = { id: 'p1', title: 'x', description: '', price: null, currency: null, attributes: {}, productHash: '', modelVersion: 'stub@1', images: [] };
    const catalog = {
      dir: '/nowhere',
      async getProduct(id: string) {
        if (catalogHeld) await catalogHeld;
        return id === 'p1' ? product : undefined;
      },
      async seenTogether() {
        return [];
      },
    } as unknown as CatalogStore;
    const app = await appWith(store, { maxConcurrent: 1, maxQueue: 0 }, catalog);

    // A held "more like this" query holds the only slot ...
    const similar = app.inject('/v1/products/p1/similar');
    await until(() => store.calls === 1, 'the similar query');
    assertError(await textSearch(app), 429, 'overloaded');
    assertError(await app.inject('/v1/products/p1/seen-together'), 429, 'overloaded');
    store.release();
    assert.equal((await similar).statusCode, 200);

    // ... and so does a held seen-together look-up.
    catalogHeld = new Promise<void>((resolve) => (releaseCatalog = resolve));
    const seen = app.inject('/v1/products/p1/seen-together');
    await new Promise((r) => setTimeout(r, 20));
    assertError(await textSearch(app), 429, 'overloaded');
    releaseCatalog();
    const seenRes = await seen;
    assert.equal(seenRes.statusCode, 200, seenRes.body);
    catalogHeld = undefined;
    assertError(await app.inject('/v1/products/nope/seen-together'), 404, 'not_found');
    assert.equal((await textSearch(app)).statusCode, 200);
    await app.close();
  });
});
