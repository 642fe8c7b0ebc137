// The workflow bundle's entry for versioned workers (the default): every workflow type (all.ts)
// with its behaviour on a deploy (PINNED or AUTO_UPGRADE), set before any of them runs.
export * from './all.js';
import './versioning-behaviors.js';
