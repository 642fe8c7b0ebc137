// `npm start`: worker, API, chat gateway and (when not configured externally) the embedded Temporal and Postgres.
import { run } from './run.js';

await run({ worker: true, api: true, gateway: true });
