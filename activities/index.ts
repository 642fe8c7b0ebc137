import type { ChannelActivities, HeartbeatActivities } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { makeDeliverHeartbeat, makeRecordHeartbeatOutcome } from './heartbeat.js';
import { makeCallModel } from './call-model.js';
import { makeDeliverReply } from './deliver-reply.js';
import { makeRecordInbound } from './record-inbound.js';
import { makeRunTool } from './run-tool.js';

/** All activities, bound to their dependencies; the worker registers this object. */
export function createActivities(deps: ActivityDeps): ChannelActivities & HeartbeatActivities {
  return {
    recordInbound: makeRecordInbound(deps),
    callModel: makeCallModel(deps),
    deliverReply: makeDeliverReply(deps),
    runTool: makeRunTool(deps),
    deliverHeartbeat: makeDeliverHeartbeat(deps),
    recordHeartbeatOutcome: makeRecordHeartbeatOutcome(deps),
  };
}

export type { ActivityDeps } from './deps.js';
