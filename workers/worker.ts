// The Temporal worker alone, for running several beside one or more API processes. With
// SPACEBOT_TOOLS_SERVICE=external it leaves workers' shell and file tools to workers/tools.ts.
import { ConfigError } from '../lib/config/load.js';
import { toolsRunLocally } from '../lib/runtime/tools-service.js';
import { run } from './run.js';

let tools: boolean;
try {
  tools = toolsRunLocally(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`spacebot: ${err.message}`);
  process.exit(1);
}
await run({ worker: true, api: false, tools });
