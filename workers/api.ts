// The HTTP API alone; needs TEMPORAL_ADDRESS and DATABASE_URL shared with the workers.
import { run } from './run.js';

await run({ worker: false, api: true });
