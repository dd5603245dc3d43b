// The crash harness in smoke mode: `groknet index` killed with SIGKILL 3 times at random
// moments and resumed, and (alongside, on a real redis-server) a kill among two queue
// workers. After every kill the catalog must open with no product half-written or
// duplicated; the resumed run must end with exactly the products and analyses of an
// uninterrupted run. The full run (20 kills each, plus `groknet train --resume` and the
// model cache) is `npm run crash`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCrash, type CrashOptions } from '../../scripts/reliability/crash.ts';
import { redisAvailable } from '../helpers/redis.ts';

const options: CrashOptions = { kills: 3, queueKills: 1, trainKills: 0, cacheKills: 0, seed: 11, parts: ['index'], products: 30, log: () => undefined };

test('crash smoke: SIGKILL during ingestion never leaves a torn or duplicated product', { timeout: 180_000 }, async (t) => {
  // The two parts are independent (own folders, own processes): run them side by side.
  const summaries = await Promise.all([
    runCrash(options),
    ...(redisAvailable() ? [runCrash({ ...options, seed: 12, parts: ['queue'], products: 8 })] : []),
  ]);
  const parts = summaries.flatMap((s) => s.parts);
  for (const part of parts) {
    t.diagnostic(`${part.part}: ${part.kills} kills, ${part.finishedEarly} finished first, ${part.checks} checks, ${part.seconds} s, ${JSON.stringify(part.figures)}`);
    assert.deepEqual(part.failures, [], part.part);
    assert.ok(part.kills >= 1, `${part.part}: no process was killed`);
  }
  assert.equal(parts.find((p) => p.part === 'index')!.kills, 3);
  assert.ok(summaries.every((s) => s.ok));
});
