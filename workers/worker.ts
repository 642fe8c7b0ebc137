// The Temporal worker alone, for running several beside one or more API processes. With
// `[tools] service = "external"` (SPACEBOT_TOOLS_SERVICE) it leaves workers' shell and file tools to
// a tools service (workers/tools.ts).
import { run } from './run.js';

await run({ worker: true, api: false });
