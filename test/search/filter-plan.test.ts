// The per-query plan for filtered k-NN: which way each filter selectivity takes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planFilteredSearch } from '../../src/search/filter-plan.ts';

// Subsets off, as the plan is while a filter's rows are not in memory yet; the last test turns them on.
const tuning = { flatScanMaxRows: 100, postfilterMargin: 3, postfilterMaxFetch: 500, allowSetMaxRows: 6_000, subsetMaxRows: 0 };

test('without a vector index every filtered search prefilters (a brute-force scan is exact already)', () => {
  assert.deepEqual(planFilteredSearch({ totalRows: 1_000_000, matchingRows: 10, limit: 10, indexed: false }, tuning), { kind: 'prefilter' });
});

test('a filter that keeps few rows scans them exactly', () => {
  assert.deepEqual(planFilteredSearch({ totalRows: 1_000_000, matchingRows: 100, limit: 10, indexed: true }, tuning), { kind: 'flat' });
  assert.deepEqual(planFilteredSearch({ totalRows: 1_000_000, matchingRows: 1, limit: 10, indexed: true }, tuning), { kind: 'flat' });
});

test('a filter that keeps a large share post-filters margin x limit / share nearest rows', () => {
  // Half the rows match: 10 wanted x 3 margin / 0.5 = 60 fetched.
  assert.deepEqual(planFilteredSearch({ totalRows: 10_000, matchingRows: 5_000, limit: 10, indexed: true }, tuning), { kind: 'postfilter', fetch: 60, via: 'rowIds' });
  // Never fewer than the rows wanted, even when every row matches; so many rows are left to LanceDB's post-filter.
  assert.deepEqual(planFilteredSearch({ totalRows: 10_000, matchingRows: 10_000, limit: 40, indexed: true }, { ...tuning, postfilterMargin: 0.5 }), { kind: 'postfilter', fetch: 40, via: 'lancedb' });
});

test('a filter between the two (too many rows to scan, too few to post-filter cheaply) prefilters', () => {
  // 1% match: 10 x 3 / 0.01 = 3,000 > 500.
  assert.deepEqual(planFilteredSearch({ totalRows: 100_000, matchingRows: 1_000, limit: 10, indexed: true }, tuning), { kind: 'prefilter' });
});

test('a filter keeping up to subsetMaxRows rows is searched in memory, at any selectivity; bigger ones plan as before', () => {
  const withSubsets = { ...tuning, subsetMaxRows: 2_000 };
  for (const matchingRows of [1, 100, 1_000, 2_000]) {
    assert.deepEqual(planFilteredSearch({ totalRows: 100_000, matchingRows, limit: 10, indexed: true }, withSubsets), { kind: 'subset' });
  }
  assert.deepEqual(planFilteredSearch({ totalRows: 10_000, matchingRows: 5_000, limit: 10, indexed: true }, withSubsets), { kind: 'postfilter', fetch: 60, via: 'rowIds' });
  // Without a vector index LanceDB's brute force is exact already.
  assert.deepEqual(planFilteredSearch({ totalRows: 5_000, matchingRows: 100, limit: 10, indexed: false }, withSubsets), { kind: 'prefilter' });
});
