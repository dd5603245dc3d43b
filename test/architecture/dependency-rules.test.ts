// The dependency rules (.dependency-cruiser.cjs, run in CI as `npm run lint:deps`): on a
// fixture folder laid out like src/ they find its one deliberate cycle (through a type-only
// import) and its one layer break (the trainer importing the CLI) and fail; on the real
// src/ and web/src they find nothing. A cruise of src/ and web/src takes about 3 s of CPU.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = path.join(root, 'test', 'fixtures', 'dependency-rules');
const config = path.join(root, '.dependency-cruiser.cjs');

interface Cruise {
  status: number | null;
  stdout: string;
  stderr: string;
}

function depcruise(cwd: string, args: string[]): Cruise {
  const run = spawnSync(path.join(root, 'node_modules', '.bin', 'depcruise'), [...args, '--config', config], { cwd, encoding: 'utf8', timeout: 120_000 });
  if (run.error) throw run.error;
  return run;
}

interface CruiseReport {
  summary: {
    totalCruised: number;
    error: number;
    violations: Array<{ rule: { name: string }; from: string; to: string }>;
  };
}

function report(cruise: Cruise): CruiseReport {
  assert.equal(cruise.status, 0, `depcruise --output-type json failed: ${cruise.stderr}`);
  return JSON.parse(cruise.stdout) as CruiseReport;
}

const violations = (found: CruiseReport): string[] => found.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();

test('the rules find the fixture\'s cycle and layer break, and nothing else', { timeout: 120_000 }, () => {
  const found = report(depcruise(fixture, ['src', '--output-type', 'json']));
  assert.equal(found.summary.totalCruised, 5, 'every fixture module was read');
  assert.deepEqual(violations(found), ['layer-train: src/train/fit.ts -> src/cli/bar.ts', 'no-circular: src/pipelines/first.ts -> src/pipelines/second.ts']);
});

test('lint:deps fails on the fixture', { timeout: 120_000 }, () => {
  const run = depcruise(fixture, ['src', '--output-type', 'err-long']);
  assert.notEqual(run.status, 0);
  assert.match(run.stdout, /error layer-train: src\/train\/fit\.ts → src\/cli\/bar\.ts/);
  assert.match(run.stdout, /error no-circular: src\/pipelines\/first\.ts →/);
});

test('src and web/src keep the rules', { timeout: 120_000 }, () => {
  const found = report(depcruise(root, ['src', 'web/src', '--output-type', 'json']));
  // A cruise that could not read TypeScript would pass having read nothing.
  assert.ok(found.summary.totalCruised > 250, `only ${found.summary.totalCruised} modules were cruised`);
  assert.deepEqual(violations(found), []);
});
