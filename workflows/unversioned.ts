// The workflow bundle's entry for workers outside a Worker Deployment (`[temporal]
// worker_versioning = false`): the same workflow types, declaring no versioning behaviour.
export * from './all.js';
