#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so there is no separate build step.
import { register } from 'tsx/esm/api';
register();
// First: a reader that closes early (`| head`) must end the process quietly, not crash it.
const { guardOutputStreams } = await import('../src/cli/stdout.ts');
guardOutputStreams();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
