// k-NN over a filter's rows held in memory (./filter-cache.ts reads them). Each row keeps its
// vector quantised to 8 bits per dimension (a scale per row) and the sign bits of it (a
// binary code). A query ranks all rows by Hamming distance on the codes, then scores the
// closest few thousand on the 8-bit vectors; a subset no bigger than that is scored whole.
//
// Why not LanceDB: its cost is per row read, and a filter's rows are scattered over the
// table, so at 1M rows its prefilter takes ~20-40 ms and an exact scan of 13,000 matching
// rows ~100 ms (BENCHMARKS.md "Vector search at scale"). Why by hand: ONNX Runtime has no
// popcount, and its 8-bit GEMV over 50,000 rows (MatMulInteger) measured 3-13 ms here,
// memory-bound, where the Hamming pass reads 32 bytes a row: ~0.7 ms for 50,000 rows.
// Scores approximate cosine similarity to ~1e-3, as the ANN index's 8-bit distances do.

/** A filter's rows, quantised, in one order. */
export interface QuantisedRows {
  rows: number;
  dim: number;
  /** rows x dim int8 values, row-major. */
  vectors: Int8Array;
  /** Per row: dot(int8 row, query) x scale ~ cosine similarity to a unit query. */
  scales: Float32Array;
  /** rows x words sign bits (bit i of word i >> 5 set when dimension i is positive). */
  codes: Uint32Array;
  words: number;
}

/** Above this k, scored rows are sorted once rather than kept in order as they come. */
const INSERTION_MAX_K = 64;

/** Rows scored on their 8-bit vectors after the Hamming pass (all of them in a smaller subset). */
export const RERANK_CANDIDATES = 2_000;

/** Accumulates vectors into quantised rows, one at a time (no float copy of the set is kept). */
export class QuantisedRowsBuilder {
  private vectors: Int8Array;
  private scales: Float32Array;
  private codes: Uint32Array;
  private count = 0;
  readonly words: number;

  constructor(readonly dim: number, expectedRows = 1024) {
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dimension must be a positive integer, got ${dim}`);
    const capacity = Math.max(1, expectedRows);
    this.words = Math.ceil(dim / 32);
    this.vectors = new Int8Array(capacity * dim);
    this.scales = new Float32Array(capacity);
    this.codes = new Uint32Array(capacity * this.words);
  }

  get rows(): number {
    return this.count;
  }

  add(vector: ArrayLike<number>): void {
    if (vector.length !== this.dim) throw new RangeError(`vector has ${vector.length} dimensions, expected ${this.dim}`);
    if (this.count === this.scales.length) this.grow();
    let maxAbs = 0;
    let sumSquares = 0;
    for (let i = 0; i < this.dim; i++) {
      const x = vector[i]!;
      if (!Number.isFinite(x)) throw new RangeError('vector has a non-finite value');
      sumSquares += x * x;
      if (Math.abs(x) > maxAbs) maxAbs = Math.abs(x);
    }
    const row = this.count++;
    const offset = row * this.dim;
    const codeOffset = row * this.words;
    // A zero vector stays all zeros with scale 0: similar to nothing.
    if (maxAbs === 0) return;
    const step = maxAbs / 127;
    for (let i = 0; i < this.dim; i++) {
      const x = vector[i]!;
      this.vectors[offset + i] = Math.round(x / step);
      if (x > 0) this.codes[codeOffset + (i >> 5)]! |= 1 << (i & 31);
    }
    this.scales[row] = step / Math.sqrt(sumSquares);
  }

  private grow(): void {
    const vectors = new Int8Array(this.vectors.length * 2);
    vectors.set(this.vectors);
    this.vectors = vectors;
    const scales = new Float32Array(this.scales.length * 2);
    scales.set(this.scales);
    this.scales = scales;
    const codes = new Uint32Array(this.codes.length * 2);
    codes.set(this.codes);
    this.codes = codes;
  }

  build(): QuantisedRows {
    return {
      rows: this.count,
      dim: this.dim,
      vectors: this.vectors.slice(0, this.count * this.dim),
      scales: this.scales.slice(0, this.count),
      codes: this.codes.slice(0, this.count * this.words),
      words: this.words,
    };
  }
}

/** Bytes a set of quantised rows holds (for the cache's budget). */
export function quantisedBytes(rows: QuantisedRows): number {
  return rows.vectors.byteLength + rows.scales.byteLength + rows.codes.byteLength;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

// Scratch buffers reused by every query (the search is synchronous, so one at a time): a
// query allocates nothing proportional to the subset, which keeps garbage collection out
// of the latency tail.
let distanceScratch = new Uint16Array(0);
let candidateScratch = new Int32Array(0);

/** Hamming distance of every row's code to the query's (a view of the scratch buffer). */
function hammingDistances(rows: QuantisedRows, q: Uint32Array): Uint16Array {
  const { codes, words } = rows;
  if (distanceScratch.length < rows.rows) distanceScratch = new Uint16Array(rows.rows);
  const distances = distanceScratch.subarray(0, rows.rows);
  if (words === 8) {
    // 256 bits, the catalog's embeddings: unrolled, ~13 ns a row here.
    const [q0, q1, q2, q3, q4, q5, q6, q7] = q as unknown as [number, number, number, number, number, number, number, number];
    for (let r = 0, o = 0; r < rows.rows; r++, o += 8) {
      distances[r] =
        popcount(codes[o]! ^ q0) + popcount(codes[o + 1]! ^ q1) + popcount(codes[o + 2]! ^ q2) + popcount(codes[o + 3]! ^ q3) +
        popcount(codes[o + 4]! ^ q4) + popcount(codes[o + 5]! ^ q5) + popcount(codes[o + 6]! ^ q6) + popcount(codes[o + 7]! ^ q7);
    }
    return distances;
  }
  for (let r = 0, o = 0; r < rows.rows; r++, o += words) {
    let d = 0;
    for (let w = 0; w < words; w++) d += popcount(codes[o + w]! ^ q[w]!);
    distances[r] = d;
  }
  return distances;
}

/** The `wanted` rows whose codes are nearest the query's (ties at the cut-off in row order). */
function hammingCandidates(rows: QuantisedRows, queryCode: Uint32Array, wanted: number): Int32Array {
  const distances = hammingDistances(rows, queryCode);
  const histogram = new Int32Array(rows.words * 32 + 1);
  for (let r = 0; r < distances.length; r++) histogram[distances[r]!]!++;
  // The smallest distance `cutoff` with at least `wanted` rows at or below it.
  let cutoff = 0;
  let below = 0;
  while (below + histogram[cutoff]! < wanted) below += histogram[cutoff++]!;
  let atCutoff = wanted - below;
  if (candidateScratch.length < wanted) candidateScratch = new Int32Array(wanted);
  const picked = candidateScratch.subarray(0, wanted);
  for (let r = 0, n = 0; r < distances.length && n < wanted; r++) {
    const d = distances[r]!;
    if (d < cutoff || (d === cutoff && atCutoff-- > 0)) picked[n++] = r;
  }
  return picked;
}

export interface ScoredRow {
  /** Row position in the quantised set. */
  row: number;
  /** Approximate cosine similarity. */
  similarity: number;
}

/** The `k` rows most similar to `query`, most similar first. */
export function nearestQuantised(rows: QuantisedRows, query: ArrayLike<number>, k: number, candidates = RERANK_CANDIDATES): ScoredRow[] {
  if (query.length !== rows.dim) throw new RangeError(`query has ${query.length} dimensions, rows ${rows.dim}`);
  if (rows.rows === 0 || k <= 0) return [];
  const dim = rows.dim;
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += query[i]! * query[i]!;
  norm = Math.sqrt(norm) || 1;
  const unit = new Float32Array(dim);
  const queryCode = new Uint32Array(rows.words);
  for (let i = 0; i < dim; i++) {
    unit[i] = query[i]! / norm;
    if (unit[i]! > 0) queryCode[i >> 5]! |= 1 << (i & 31);
  }
  const pool = rows.rows <= Math.max(candidates, k) ? null : hammingCandidates(rows, queryCode, Math.max(candidates, k));
  const count = pool ? pool.length : rows.rows;
  const { vectors, scales } = rows;
  // The best k so far, most similar first (k is small: insertion beats sorting every row).
  const best: ScoredRow[] = [];
  for (let i = 0; i < count; i++) {
    const row = pool ? pool[i]! : i;
    const o = row * dim;
    let a = 0;
    let b = 0;
    for (let j = 0; j + 1 < dim; j += 2) {
      a += vectors[o + j]! * unit[j]!;
      b += vectors[o + j + 1]! * unit[j + 1]!;
    }
    if (dim % 2 === 1) a += vectors[o + dim - 1]! * unit[dim - 1]!;
    const similarity = (a + b) * scales[row]!;
    if (k > INSERTION_MAX_K) {
      best.push({ row, similarity });
      continue;
    }
    if (best.length === k && similarity <= best[k - 1]!.similarity) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && best[at - 1]!.similarity < similarity) {
      best[at] = best[at - 1]!;
      at--;
    }
    best[at] = { row, similarity };
  }
  if (k > INSERTION_MAX_K) return best.sort((x, y) => y.similarity - x.similarity).slice(0, k);
  return best;
}
