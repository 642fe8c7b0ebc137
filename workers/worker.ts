// The Temporal worker alone, for running several beside one or more API processes.
import { run } from './run.js';

await run({ worker: true, api: false });
