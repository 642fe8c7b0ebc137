import type { ChannelActivities, ChannelRecoveryActivities, CompactionActivities, CortexActivities, HeartbeatActivities, IngestionActivities } from './contract.js';
import { makeCompactionActivities } from './compaction.js';
import { makeCortexActivities } from './cortex.js';
import type { ActivityDeps } from './deps.js';
import { makeDeliverHeartbeat, makeRecordHeartbeatOutcome } from './heartbeat.js';
import { makeCallModel } from './call-model.js';
import { makeDeliverReply } from './deliver-reply.js';
import { makeRecordInbound } from './record-inbound.js';
import { makeRecoverChannel } from './recover-channel.js';
import { makeRunTool } from './run-tool.js';
import { makeIngestionActivities } from './ingestion.js';
import { makeForkContext, makeRecordContext } from './process-context.js';
import { makeApprovalActivities } from '../lib/policy/approval-activities.js';
import type { ApprovalActivities } from '../workflows/approval-contract.js';

/** All activities, bound to their dependencies; the worker registers this object. */
export function createActivities(deps: ActivityDeps): ChannelActivities & ChannelRecoveryActivities & HeartbeatActivities & CortexActivities & IngestionActivities & CompactionActivities & ApprovalActivities {
  return {
    recordInbound: makeRecordInbound(deps),
    recoverChannel: makeRecoverChannel(deps),
    callModel: makeCallModel(deps),
    deliverReply: makeDeliverReply(deps),
    runTool: makeRunTool(deps),
    recordContext: makeRecordContext(deps),
    forkContext: makeForkContext(deps),
    deliverHeartbeat: makeDeliverHeartbeat(deps),
    recordHeartbeatOutcome: makeRecordHeartbeatOutcome(deps),
    ...makeCortexActivities(deps),
    ...makeIngestionActivities(deps),
    ...makeCompactionActivities(deps),
    ...makeApprovalActivities(deps),
  };
}

export type { ActivityDeps } from './deps.js';
