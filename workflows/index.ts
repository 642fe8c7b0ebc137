// The workflow bundle's entry: every workflow type the worker registers.
export { channelWorkflow } from './channel.js';
export { heartbeatWorkflow } from './heartbeat.js';
