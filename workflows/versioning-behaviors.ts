import { setWorkflowOptions } from '@temporalio/workflow';
import { branchWorkflow } from './branch.js';
import { channelWorkflow } from './channel.js';
import { compactorWorkflow } from './compactor.js';
import { cortexWorkflow } from './cortex.js';
import { heartbeatWorkflow } from './heartbeat.js';
import { ingestionWorkflow } from './ingestion.js';
import { workerWorkflow } from './worker.js';

/**
 * What a deploy does to each workflow type under Worker Versioning (docs/runs.md#versioned-deploys).
 *
 * PINNED: a run stays on the build it started on until it ends (its continue-as-new runs and the
 * children it starts on the same task queue too), so it never meets code it was not written against
 * and needs no patched(); the old build's workers stay up until these runs have drained. For runs
 * that end on their own within minutes to hours: branches, workers, the compactor, heartbeat runs,
 * ingestion.
 *
 * AUTO_UPGRADE: the next workflow task after a new build becomes current runs on it, mid-run. For
 * the long-lived runs that would otherwise never leave an old build (a conversation can idle for
 * months): the channel and the cortex. Every change to what they do therefore goes behind
 * patched() and must replay their recorded histories (test/replay.test.ts, `npm run replay -- --all`).
 */
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, channelWorkflow);
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, cortexWorkflow);
setWorkflowOptions({ versioningBehavior: 'PINNED' }, branchWorkflow);
setWorkflowOptions({ versioningBehavior: 'PINNED' }, workerWorkflow);
setWorkflowOptions({ versioningBehavior: 'PINNED' }, compactorWorkflow);
setWorkflowOptions({ versioningBehavior: 'PINNED' }, heartbeatWorkflow);
setWorkflowOptions({ versioningBehavior: 'PINNED' }, ingestionWorkflow);
