// Every workflow type the worker registers. The bundle's entry is index.ts (versioned workers) or
// unversioned.ts (`[temporal] worker_versioning = false`): the server refuses a workflow task that
// declares a versioning behaviour from a worker outside a Worker Deployment.
export { channelWorkflow } from './channel.js';
export { heartbeatWorkflow } from './heartbeat.js';
export { branchWorkflow } from './branch.js';
export { workerWorkflow } from './worker.js';
export { compactorWorkflow } from './compactor.js';
export { cortexWorkflow } from './cortex.js';
export { ingestionWorkflow } from './ingestion.js';
