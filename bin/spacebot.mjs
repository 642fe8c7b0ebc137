#!/usr/bin/env node
// The `spacebot` command: runs the TypeScript CLI through tsx (a runtime dependency), so it works
// from a checkout without a build.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../cli/spacebot.ts');
await run(process.argv.slice(2));
