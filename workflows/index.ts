// The workflow bundle's entry: every workflow type the worker registers.
export { channelWorkflow } from './channel.js';
export { heartbeatWorkflow } from './heartbeat.js';
export { branchWorkflow } from './branch.js';
export { workerWorkflow } from './worker.js';
export { compactorWorkflow } from './compactor.js';
export { cortexWorkflow } from './cortex.js';
export { ingestionWorkflow } from './ingestion.js';
// Each type's behaviour on a deploy (PINNED or AUTO_UPGRADE), set before any of them runs.
import './versioning-behaviors.js';
