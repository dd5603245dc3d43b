// The in-memory search of a filter's rows: 8-bit vectors and sign-bit codes built from floats,
// the nearest rows found (all rows scored, or a Hamming pass first), similarities close to
// cosine, and clear errors for vectors that cannot be searched.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuantisedRowsBuilder, nearestQuantised, quantisedBytes } from '../../src/search/subset-scan.ts';
import { rng } from '../../src/util/random.ts';

const random = rng(11);
const gaussian = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
};
/** Vectors in clusters (products come in families), not unit length on purpose. */
function clustered(count: number, dim: number, clusters: number): Float32Array[] {
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, gaussian));
  return Array.from({ length: count }, (_, i) => Float32Array.from(centres[i % clusters]!, (c) => (c + 0.5 * gaussian()) * (1 + (i % 3))));
}
function build(vectors: Float32Array[]) {
  const builder = new QuantisedRowsBuilder(vectors[0]!.length, 4); // grows past 4
  for (const v of vectors) builder.add(v);
  return builder.build();
}
const exactTop = (vectors: Float32Array[], query: Float32Array, k: number) =>
  vectors.map((v, row) => ({ row, s: cosine(v, query) })).sort((a, b) => b.s - a.s).slice(0, k);

test('every row scored: the true nearest, most similar first, with similarities within 0.01 of cosine', () => {
  const vectors = clustered(300, 256, 30);
  const rows = build(vectors);
  assert.equal(rows.rows, 300);
  assert.equal(quantisedBytes(rows), 300 * (256 + 4 + 32));
  const query = Float32Array.from(vectors[17]!, (x) => x + 0.1 * gaussian());
  const found = nearestQuantised(rows, query, 10);
  const truth = exactTop(vectors, query, 10);
  assert.deepEqual(found.map((f) => f.row), truth.map((t) => t.row));
  for (const [i, f] of found.entries()) assert.ok(Math.abs(f.similarity - truth[i]!.s) < 0.01, `${f.similarity} vs ${truth[i]!.s}`);
});

test('a Hamming pass first (more rows than candidates) keeps the nearest of clustered data', () => {
  const vectors = clustered(5_000, 256, 100);
  const rows = build(vectors);
  let hits = 0;
  for (let q = 0; q < 20; q++) {
    const query = Float32Array.from(vectors[q * 97]!, (x) => x + 0.1 * gaussian());
    const truth = new Set(exactTop(vectors, query, 10).map((t) => t.row));
    const found = nearestQuantised(rows, query, 10, 500);
    assert.equal(found.length, 10);
    hits += found.filter((f) => truth.has(f.row)).length;
  }
  assert.ok(hits / 200 >= 0.95, `recall@10 ${hits / 200}`);
});

test('dimensions that are not a multiple of 32, k above the row count, and an empty set', () => {
  const vectors = clustered(40, 45, 4);
  const rows = build(vectors);
  assert.equal(rows.words, 2);
  const query = vectors[3]!;
  const found = nearestQuantised(rows, query, 100, 8);
  assert.equal(found.length, 40);
  assert.equal(found[0]!.row, 3);
  assert.ok(Math.abs(found[0]!.similarity - 1) < 0.01);
  assert.deepEqual(nearestQuantised(new QuantisedRowsBuilder(45).build(), query, 5), []);
  assert.deepEqual(nearestQuantised(rows, query, 0), []);
});

test('a zero vector is similar to nothing; a zero query finds rows at similarity 0', () => {
  const builder = new QuantisedRowsBuilder(4);
  builder.add([0, 0, 0, 0]);
  builder.add([1, 0, 0, 0]);
  const rows = builder.build();
  const found = nearestQuantised(rows, [1, 0, 0, 0], 2);
  assert.deepEqual(found.map((f) => f.row), [1, 0]);
  assert.equal(found[1]!.similarity, 0);
  assert.ok(nearestQuantised(rows, [0, 0, 0, 0], 2).every((f) => f.similarity === 0));
});

test('vectors and queries of the wrong size, or with NaN, are refused', () => {
  const builder = new QuantisedRowsBuilder(4);
  assert.throws(() => builder.add([1, 2, 3]), /3 dimensions, expected 4/);
  assert.throws(() => builder.add([1, Number.NaN, 0, 0]), /non-finite/);
  assert.throws(() => new QuantisedRowsBuilder(0), /positive integer/);
  builder.add([1, 2, 3, 4]);
  assert.throws(() => nearestQuantised(builder.build(), [1, 2], 1), /2 dimensions, rows 4/);
});

test('a large k (sorted at the end rather than kept in order) gives the same ranking as a small one', () => {
  const vectors = clustered(400, 32, 8);
  const rows = build(vectors);
  const query = vectors[5]!;
  const big = nearestQuantised(rows, query, 300);
  assert.equal(big.length, 300);
  for (let i = 1; i < big.length; i++) assert.ok(big[i]!.similarity <= big[i - 1]!.similarity);
  assert.deepEqual(big.slice(0, 20).map((f) => f.row), nearestQuantised(rows, query, 20).map((f) => f.row));
});
