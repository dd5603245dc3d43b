// The malformed-image fuzzer in smoke mode (~140 generated cases, no datasets): every case
// through the library, the CLI and POST /v1/analyze must be analysed or refused with a typed
// error (a 4xx), within the time bound, with no network attempt for SVG references and the
// same answer on every surface. The full run is `npm run fuzz` (see RELIABILITY.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from '../../scripts/reliability/fuzz.ts';

test('fuzz smoke: every malformed image gets a typed answer on every surface', { timeout: 120_000 }, async (t) => {
  const summary = await runFuzz({
    cases: 100,
    seed: 7,
    smoke: true,
    datasets: undefined,
    photos: 0,
    timeoutMs: 10_000,
    surfaces: ['lib', 'cli', 'http'],
    cliBatch: 500,
    maxRssGrowthMb: 400,
    log: () => undefined,
  });
  t.diagnostic(`${summary.cases} cases in ${summary.elapsedS} s; outcomes ${JSON.stringify(summary.outcomes.analyze)}; max ms ${JSON.stringify(summary.maxMs)}; rss ${JSON.stringify(summary.rss)}`);
  assert.ok(summary.cases >= 100);
  assert.deepEqual(summary.defects, [], 'untyped errors, 5xx, hangs, unexpected outcomes or leaks');
  assert.deepEqual(summary.inconsistencies, [], 'library, API and CLI agree on every case');
  assert.equal(summary.network.canaryConnections, 0, 'no SVG reference was fetched');
  assert.ok(summary.network.svgCases >= 8 && summary.network.svgMaxMs < 1000, 'SVGs are refused at once, from their bytes');
  for (const surface of ['decode', 'analyze', 'http', 'cli']) {
    const outcomes = summary.outcomes[surface]!;
    assert.ok(outcomes.ok! > 0 && outcomes.truncated! > 0 && outcomes.too_large! > 0 && outcomes.unsupported_format! > 0, `${surface}: ${JSON.stringify(outcomes)}`);
  }
  assert.ok(Object.keys(summary.httpStatus).every((s) => s === '200' || (Number(s) >= 400 && Number(s) < 500)), JSON.stringify(summary.httpStatus));
  assert.ok(summary.maxMs.analyze! < 10_000 && summary.maxMs.http! < 10_000);
});
