// Vector search at catalog scale: N synthetic 256-d unit vectors with attributes in LanceDB,
// indexed the way groknet's catalog indexes them (src/catalog/indexes.ts: IVF_HNSW_SQ, or
// IVF_PQ to compare), queried with the catalog's knobs (nprobes, refine factor, ef) or others.
// Measures build time, p50/p99 latency for k=10 with and without an attribute filter,
// recall@10 against exact search, and memory.
// Run: node --import tsx bench/vector-search.ts [--rows 1000000] [--queries 200] [--index ivf_hnsw_sq|ivf_pq]
//      [--nprobes 10,20] [--refine 1,5] [--ef 32,64] [--print: print the section instead of writing BENCHMARKS.md]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Int32, Schema, Uint8, Utf8 } from 'apache-arrow';
import { vectorIndexConfig, vectorIndexLabel, NPROBES, REFINE_FACTOR, EF } from '../src/catalog/indexes.ts';
import { rng } from '../src/util/random.ts';
import { filteredNearest, settleFilterCaches } from '../src/search/filtered-nearest.ts';
import { machine, peakRssMiB, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    queries: { type: 'string', default: '200' },
    index: { type: 'string', default: 'ivf_hnsw_sq' },
    nprobes: { type: 'string', default: '20' },
    refine: { type: 'string', default: '1' },
    ef: { type: 'string', default: '64' },
    // prefilter: LanceDB restricts the search to matching rows first (its default);
    // postfilter:N: the N nearest overall, then the filter (cheaper to start, may miss).
    // flat: exact scan of the matching rows; adaptive: the catalog's per-query choice (src/search/filter-plan.ts).
    'filter-mode': { type: 'string', default: 'adaptive,prefilter,postfilter:400,flat' },
    filters: { type: 'string', default: 'category,brand:0,brand:9,brand:99,brand:999' },
    'flat-rows': { type: 'string', default: '10000,100000' },
    print: { type: 'boolean', default: false },
    'table-dir': { type: 'string' },
    'build-only': { type: 'boolean', default: false },
    // Leave out the searches without the vector index (~3 minutes at 1M rows), for quick runs with --print.
    'skip-unindexed': { type: 'boolean', default: false },
  },
});
const INDEX = values.index as 'ivf_pq' | 'ivf_hnsw_sq';
if (INDEX !== 'ivf_pq' && INDEX !== 'ivf_hnsw_sq') throw new Error('--index must be ivf_pq or ivf_hnsw_sq');
const numbers = (list: string) => list.split(',').map(Number);
const FILTER_MODES = values['filter-mode']!.split(',');
for (const mode of FILTER_MODES) if (!/^(prefilter|flat|adaptive|postfilter:\d+)$/.test(mode)) throw new Error('--filter-mode must be prefilter, flat, adaptive or postfilter:N, comma-separated');
const N = Number(values.rows);
const Q = Number(values.queries);
const DIM = 256;
const CATEGORIES = 20;
const random = rng(42);
const TABLE_NAME = `products_${INDEX}`;
const gaussian = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());

// Clustered data (products come in families), so neighbours are meaningful and the index has structure.
const CLUSTERS = 2000;
const centres = Array.from({ length: CLUSTERS }, () => Float32Array.from({ length: DIM }, gaussian));
function vectorNear(centre: Float32Array, spread: number): Float32Array {
  const v = Float32Array.from(centre, (c) => c + spread * gaussian());
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

// --table-dir keeps the built table (and reuses it on the next run with the same --rows and
// --index): building 1M rows and their index takes ~12 minutes, querying a few.
const dir = values['table-dir'] ? path.resolve(values['table-dir']) : await mkdtemp(path.join(os.tmpdir(), 'groknet-vector-bench-'));
const db = await lancedb.connect(dir);
const schema = new Schema([
  new Field('id', new Utf8()),
  new Field('category', new Utf8()),
  new Field('brand', new Utf8()),
  new Field('price', new Int32()),
  new Field('vector', new FixedSizeList(DIM, new Field('item', new Float32(), true))),
  new Field('code', new FixedSizeList(DIM / 8, new Field('item', new Uint8(), true))),
]);
// 256-bit codes: one sign bit per dimension, as the catalog stores (after the model's ITQ
// rotation, which the synthetic vectors do not need: their dimensions are already balanced).
function signCode(v: Float32Array): number[] {
  const bytes = new Array<number>(v.length / 8).fill(0);
  for (let j = 0; j < v.length; j++) if (v[j]! > 0) bytes[j >> 3]! |= 1 << (7 - (j & 7));
  return bytes;
}
// Brands follow Zipf's law (a few big ones, a long tail), so filters on them span selectivities
// from ~13% of the rows (b0) to ~0.013% (b999): the range a per-query plan has to cover.
const BRANDS = 1000;
const brandCdf = new Float64Array(BRANDS);
{
  let sum = 0;
  for (let b = 0; b < BRANDS; b++) brandCdf[b] = sum += 1 / (b + 1);
  for (let b = 0; b < BRANDS; b++) brandCdf[b]! /= sum;
}
function zipfBrand(u: number): number {
  let lo = 0;
  let hi = BRANDS - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (brandCdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
// The data is a pure function of the seed, so a reused table is regenerated here (not written)
// for the exact search the recall is measured against.
const stored: Float32Array = new Float32Array(N * DIM);
const categoryOf = new Int32Array(N);
const brandOf = new Int32Array(N);
const existing = (await db.tableNames()).includes(TABLE_NAME) ? await db.openTable(TABLE_NAME) : undefined;
const reuse = existing !== undefined && (await existing.countRows()) === N && (await existing.listIndices()).some((i) => i.columns.includes('vector'));
if (existing && !reuse) await db.dropTable(TABLE_NAME);
const started = performance.now();
let table: lancedb.Table | undefined = reuse ? existing : undefined;
const BATCH = 50_000;
for (let start = 0; start < N; start += BATCH) {
  const rows = [];
  for (let i = start; i < Math.min(N, start + BATCH); i++) {
    const v = vectorNear(centres[Math.floor(random() * CLUSTERS)]!, 0.6);
    stored.set(v, i * DIM);
    categoryOf[i] = Math.floor(random() * CATEGORIES);
    brandOf[i] = zipfBrand(random());
    const price = Math.floor(random() * 1000);
    if (!reuse) rows.push({ id: `p${i}`, category: `c${categoryOf[i]}`, brand: `b${brandOf[i]}`, price, vector: Array.from(v), code: signCode(v) });
  }
  if (reuse) continue;
  if (!table) table = await db.createTable(TABLE_NAME, rows, { schema });
  else await table.add(rows);
}
// A reused table reports the times of the run that built it (kept beside it).
const buildFile = path.join(dir, `${TABLE_NAME}.build.json`);
let loadSeconds = (performance.now() - started) / 1000;
const indexStarted = performance.now();
if (!reuse) {
  await table!.createIndex('vector', { config: vectorIndexConfig(INDEX, N, DIM) });
  await table!.createIndex('category', { config: lancedb.Index.bitmap() });
  await table!.createIndex('brand', { config: lancedb.Index.bitmap() });
}
let indexSeconds = (performance.now() - indexStarted) / 1000;
// The catalog compacts after every ingest (src/catalog/indexes.ts optimize): one fragment
// instead of one per batch added, which halves the cost of reading scattered rows.
const built = reuse ? (JSON.parse(await readFile(buildFile, 'utf8').catch(() => '{}')) as { loadSeconds?: number; indexSeconds?: number; compactSeconds?: number }) : {};
let compactSeconds = built.compactSeconds ?? NaN;
if (!reuse || built.compactSeconds === undefined) {
  const compactStarted = performance.now();
  await table!.optimize();
  compactSeconds = (performance.now() - compactStarted) / 1000;
}
if (reuse) {
  loadSeconds = built.loadSeconds ?? NaN;
  indexSeconds = built.indexSeconds ?? NaN;
}
if (values['table-dir']) await writeFile(buildFile, JSON.stringify({ loadSeconds, indexSeconds, compactSeconds }));
console.log(reuse ? `reusing ${N} rows in ${dir}` : `built ${N} rows: load ${loadSeconds.toFixed(0)} s, indexes ${indexSeconds.toFixed(0)} s, compaction ${compactSeconds.toFixed(0)} s`);
if (values['build-only']) process.exit(0);

// Queries: perturbed copies of stored vectors (a new photo of a catalogued product).
const queries: Float32Array[] = [];
for (let q = 0; q < Q; q++) {
  const i = Math.floor(random() * N);
  queries.push(vectorNear(stored.slice(i * DIM, (i + 1) * DIM), 0.02));
}

// Filters measured: the category (1 of 20 values, ~5% of the rows; a different value per
// query) and single brands along the Zipf tail (`brand:R`: the brand of rank R).
interface FilterSpec { key: string; label: string; where: (q: number) => string; group: (q: number) => string; rows: (q: number) => Int32Array }
const rowsOf = new Map<string, Int32Array>();
function rowsWhere(group: string, test: (i: number) => boolean): Int32Array {
  let rows = rowsOf.get(group);
  if (!rows) {
    const list: number[] = [];
    for (let i = 0; i < N; i++) if (test(i)) list.push(i);
    rows = Int32Array.from(list);
    rowsOf.set(group, rows);
  }
  return rows;
}
function filterSpec(key: string): FilterSpec {
  if (key === 'category') {
    return {
      key,
      label: 'category filter (1 of 20, ~5% of rows)',
      where: (q) => `category = 'c${q % CATEGORIES}'`,
      group: (q) => `c${q % CATEGORIES}`,
      rows: (q) => rowsWhere(`c${q % CATEGORIES}`, (i) => categoryOf[i] === q % CATEGORIES),
    };
  }
  const brand = /^brand:(\d+)$/.exec(key);
  if (!brand || Number(brand[1]) >= BRANDS) throw new Error(`--filters: ${key} is not category or brand:R (R < ${BRANDS})`);
  const b = Number(brand[1]);
  const share = rowsWhere(`b${b}`, (i) => brandOf[i] === b).length / N;
  return {
    key,
    label: `brand filter (rank ${b + 1} of ${BRANDS}, ${share >= 0.01 ? (share * 100).toFixed(1) : (share * 100).toFixed(3)}% of rows)`,
    where: () => `brand = 'b${b}'`,
    group: () => `b${b}`,
    rows: () => rowsWhere(`b${b}`, (i) => brandOf[i] === b),
  };
}
const FILTERS = values.filters!.split(',').filter(Boolean).map(filterSpec);

const truthCache = new Map<string, Set<string>>();
function exactTop(q: number, k: number, filter?: FilterSpec): Set<string> {
  const key = `${q}:${filter ? filter.group(q) : ''}`;
  const known = truthCache.get(key);
  if (known) return known;
  const truth = exactTopUncached(queries[q]!, k, filter?.rows(q));
  truthCache.set(key, truth);
  return truth;
}

function exactTopUncached(query: Float32Array, k: number, only?: Int32Array): Set<string> {
  const best: Array<{ i: number; s: number }> = [];
  const count = only ? only.length : N;
  for (let r = 0; r < count; r++) {
    const i = only ? only[r]! : r;
    let s = 0;
    const o = i * DIM;
    for (let j = 0; j < DIM; j++) s += query[j]! * stored[o + j]!;
    if (best.length < k || s > best[best.length - 1]!.s) {
      best.push({ i, s });
      best.sort((a, b) => b.s - a.s);
      if (best.length > k) best.pop();
    }
  }
  return new Set(best.map((b) => `p${b.i}`));
}

interface Knobs { nprobes: number; refine: number; ef: number; filterMode?: string }
interface RunResult { p50: number; p99: number; recall: number; plans: Map<string, number>; firstUse?: { count: number; p50: number; max: number } }
async function run(filter: FilterSpec | undefined, knobs: Knobs, warm = false): Promise<RunResult> {
  const times: number[] = [];
  // The catalog's plan caches per filter value (its count and row ids): the first query of
  // each value pays for that, once per table version, and is reported apart.
  const firstUse: number[] = [];
  const seen = new Set<string>();
  const plans = new Map<string, number>();
  let hits = 0;
  const mode = filter ? knobs.filterMode ?? 'prefilter' : 'none';
  // The exact answers first: their scans of the stored vectors would otherwise run between
  // timed queries and evict LanceDB's pages from the CPU caches.
  for (let q = 0; q < Math.min(Q, 100); q++) exactTop(q, 10, filter);
  for (let q = 0; q < Q; q++) {
    const where = filter?.where(q);
    let rows: Array<{ id: string }>;
    const t = performance.now();
    if (mode === 'adaptive') {
      // What the catalog does (src/search/filtered-nearest.ts), with the catalog's own knobs.
      const found = await filteredNearest<{ id: string }>(table!, { vector: queries[q]!, column: 'vector', where, limit: 10, select: ['id', '_distance'] });
      rows = found.rows;
      const plan = `${found.plan.kind}${found.fallback ? ' then prefilter' : ''}`;
      plans.set(plan, (plans.get(plan) ?? 0) + 1);
    } else {
      const post = mode.startsWith('postfilter:') ? Number(mode.split(':')[1]) : 0;
      let search = table!.vectorSearch(Array.from(queries[q]!)).distanceType('cosine').nprobes(knobs.nprobes).ef(Math.max(knobs.ef, post)).select(['id', '_distance']).limit(post || 10);
      if (knobs.refine > 1) search = search.refineFactor(knobs.refine);
      if (where) search = search.where(where);
      if (post) search = search.postfilter();
      if (mode === 'flat') search = search.bypassVectorIndex();
      rows = ((await search.toArray()) as Array<{ id: string }>).slice(0, 10);
    }
    const elapsed = performance.now() - t;
    if (mode === 'adaptive' && !warm && !seen.has(where!)) firstUse.push(elapsed);
    else times.push(elapsed);
    if (where) seen.add(where);
    if (q < Math.min(Q, 100)) {
      const truth = exactTop(q, 10, filter);
      hits += rows.filter((r) => truth.has(r.id)).length / Math.min(10, truth.size);
    }
  }
  times.sort((a, b) => a - b);
  firstUse.sort((a, b) => a - b);
  return {
    p50: times[Math.floor(times.length * 0.5)]!,
    p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]!,
    recall: hits / Math.min(Q, 100),
    plans,
    ...(firstUse.length > 0 ? { firstUse: { count: firstUse.length, p50: firstUse[Math.floor(firstUse.length / 2)]!, max: firstUse.at(-1)! } } : {}),
  };
}

const MODE_LABELS: Record<string, string> = {
  prefilter: 'prefilter (ANN restricted to matching rows)',
  flat: 'exact scan of the matching rows',
  adaptive: 'per-query plan (the catalog\'s)',
};
const modeLabel = (mode: string) => MODE_LABELS[mode] ?? `post-filtering the ${mode.split(':')[1]} nearest`;
const results: string[] = [];
const line = (name: string, k: Knobs, r: RunResult) =>
  `| ${name} | ${k.nprobes} | ${k.refine} | ${k.ef} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.recall.toFixed(3)} | ${
    r.plans.size ? [...r.plans].map(([p, n]) => `${p} ${n}`).join(', ') : '-'
  } | ${r.firstUse ? `${r.firstUse.count} first uses: p50 ${r.firstUse.p50.toFixed(1)}, max ${r.firstUse.max.toFixed(1)} ms` : '-'} |`;
let warmed = false;
async function warmUp(knobs: Knobs): Promise<void> {
  for (let q = 0; q < 20; q++) {
    await table!.vectorSearch(Array.from(queries[(q * 7) % Q]!)).distanceType('cosine').nprobes(knobs.nprobes).ef(knobs.ef).select(['id', '_distance']).limit(10).toArray();
  }
}
for (const nprobes of numbers(values.nprobes!)) {
  for (const refine of numbers(values.refine!)) {
    for (const ef of numbers(values.ef!)) {
      const knobs = { nprobes, refine, ef };
      // One untimed pass warms the index pages, as a running service has them.
      if (!warmed) await run(undefined, knobs);
      warmed = true;
      results.push(line('vector only', knobs, await run(undefined, knobs)));
      console.log(results.at(-1));
      for (const filter of FILTERS) {
        for (const filterMode of FILTER_MODES) {
          // The adaptive plan uses the catalog's knobs: measured once, not per knob setting.
          if (filterMode === 'adaptive' && (nprobes !== NPROBES || ef !== EF || refine !== REFINE_FACTOR)) continue;
          // The exact scans read thousands of vectors and push the index out of LanceDB's
          // caches: a short untimed pass brings it back before each measured one.
          await warmUp(knobs);
          results.push(line(`${filter.label}: ${modeLabel(filterMode)}`, knobs, await run(filter, { ...knobs, filterMode })));
          console.log(results.at(-1));
          if (filterMode === 'adaptive') {
            // Again once the row-id sets the first pass queued are read: a service's steady state.
            await settleFilterCaches(table!);
            results.push(line(`${filter.label}: ${modeLabel(filterMode)}, again (filters cached)`, knobs, await run(filter, { ...knobs, filterMode }, true)));
            console.log(results.at(-1));
          }
        }
      }
    }
  }
}
// Without an index: exact float search (what the catalog does below its index threshold),
// and the binary codes' Hamming scan with a float re-rank of its candidates (search-binary.ts).
const HAMMING = 'hamming' as unknown as 'l2';
const percentiles = (times: number[]) => {
  const sorted = [...times].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length * 0.5)]!, p99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! };
};
const FLAT_QUERIES = Math.min(Q, 50);
async function flatRun(target: lancedb.Table, rows: number): Promise<{ p50: number; p99: number; recall: number }> {
  const times: number[] = [];
  let hits = 0;
  for (let q = 0; q < FLAT_QUERIES; q++) {
    const t = performance.now();
    const found = (await target.vectorSearch(Array.from(queries[q]!)).distanceType('cosine').bypassVectorIndex().select(['id', '_distance']).limit(10).toArray()) as Array<{ id: string }>;
    times.push(performance.now() - t);
    if (rows === N) {
      const truth = exactTop(q, 10);
      hits += found.filter((r) => truth.has(r.id)).length / 10;
    }
  }
  return { ...percentiles(times), recall: rows === N ? hits / FLAT_QUERIES : NaN };
}
const flatLines: string[] = [];
for (const rows of values['skip-unindexed'] ? [] : values['flat-rows']!.split(',').map(Number).filter((r) => r > 0 && r < N)) {
  const subset = await db.createTable(`flat_${rows}`, await table!.query().select(['id', 'category', 'price', 'vector', 'code']).limit(rows).toArrow(), { mode: 'overwrite' });
  const r = await flatRun(subset, rows);
  flatLines.push(`| exact float scan (no index) | ${rows.toLocaleString('en')} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | 1.000 (exact) |`);
  console.log(flatLines.at(-1));
}
if (!values['skip-unindexed']) {
  const r = await flatRun(table!, N);
  flatLines.push(`| exact float scan (no index) | ${N.toLocaleString('en')} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.recall.toFixed(3)} |`);
  console.log(flatLines.at(-1));
}
for (const candidates of values['skip-unindexed'] ? [] : [100, 1000]) {
  const times: number[] = [];
  let hits = 0;
  for (let q = 0; q < FLAT_QUERIES; q++) {
    const query = queries[q]!;
    const t = performance.now();
    const found = (await table!.vectorSearch(Uint8Array.from(signCode(query))).column('code').distanceType(HAMMING).select(['id', 'vector', '_distance']).limit(candidates).toArray()) as Array<{ id: string; vector: { toArray(): Float32Array } | number[] }>;
    const reranked = found
      .map((row) => {
        const v = Array.isArray(row.vector) ? row.vector : Array.from(row.vector.toArray());
        let dot = 0;
        for (let j = 0; j < DIM; j++) dot += query[j]! * v[j]!;
        return { id: row.id, dot };
      })
      .sort((a, b) => b.dot - a.dot)
      .slice(0, 10);
    times.push(performance.now() - t);
    const truth = exactTop(q, 10);
    hits += reranked.filter((r) => truth.has(r.id)).length / 10;
  }
  const r = percentiles(times);
  flatLines.push(`| 256-bit codes: Hamming scan for ${candidates} candidates, float re-rank | ${N.toLocaleString('en')} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(hits / FLAT_QUERIES).toFixed(3)} |`);
  console.log(flatLines.at(-1));
}

const section = `## Vector search at scale (issue: catalog and search)

Command: \`node --import tsx bench/vector-search.ts --rows ${N} --queries ${Q} --index ${INDEX} --nprobes ${values.nprobes} --refine ${values.refine} --ef ${values.ef} --filter-mode ${values['filter-mode']} --filters ${values.filters}\` (\`--table-dir DIR\` keeps the built table for the next run). Machine: ${machine()}. LanceDB embedded, local disk.
${N.toLocaleString('en')} synthetic 256-d unit vectors (2,000 clusters), a category attribute (20 values, uniform), a brand attribute (1,000 values, Zipf: from 13% of the rows down to 0.01%), both with bitmap indexes, and a price; ${vectorIndexLabel(INDEX, N, DIM)}, as the catalog builds it. Queries: stored vectors with small noise (a new photo of a catalogued product); recall@10 against exact brute-force search (of the matching rows) on the first ${Math.min(Q, 100)} queries. Filtered queries run each way LanceDB offers (prefilter, post-filtering a fixed number of nearest rows, an exact scan of the matching rows) and the catalog's per-query plan (src/search/filter-plan.ts, src/search/filtered-nearest.ts), which picks from the filter's row count: up to 100,000 matching rows it searches them in memory (src/search/subset-scan.ts: a Hamming pass on sign bits, then 8-bit scores, rows read once per filter and table version by src/search/filter-cache.ts), and until they are read, or for bigger filters, one of LanceDB's ways. The table is compacted after loading (one fragment), as the catalog's optimize does.

| | build |
|---|---|
| load rows | ${loadSeconds.toFixed(0)} s |
| vector index + 2 bitmap indexes | ${indexSeconds.toFixed(0)} s |
| compaction (table.optimize(), as the catalog runs after ingest) | ${compactSeconds.toFixed(0)} s |

| query (k=10) | nprobes | refine | ef | p50 ms | p99 ms | recall@10 | plans run (per-query plan) | first query of each filter value (per-query plan) |
|---|---|---|---|---|---|---|---|---|
${results.join('\n')}

The catalog's search uses nprobes ${NPROBES}, refine factor ${REFINE_FACTOR} and ef ${EF} (src/catalog/indexes.ts).

Without the vector index (${FLAT_QUERIES} queries each, no filter; recall@10 against the exact top 10 of all ${N.toLocaleString('en')} rows):

| search | rows | p50 ms | p99 ms | recall@10 |
|---|---|---|---|---|
${flatLines.join('\n')}

Peak RSS of the benchmark process (holds its own copy of all vectors for the exact search: ${((N * DIM * 4) / 2 ** 20).toFixed(0)} MiB): ${peakRssMiB().toFixed(0)} MiB.`;
if (!values.print) await writeSection('vector-search', section);
else console.log(section);
console.log({ loadSeconds, indexSeconds, compactSeconds, rss: peakRssMiB() });
if (!values['table-dir']) await rm(dir, { recursive: true, force: true });
