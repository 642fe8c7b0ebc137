import { patched, proxyLocalActivities } from '@temporalio/workflow';
import type { ToolCall } from '../activities/contract.js';
import { STORAGE_OPTIONS } from './activity-options.js';
import type { ApprovalActivities, WorkerStartPermit } from './approval-contract.js';
import type { ChannelKey, InboundMessage } from './channel-contract.js';

const policy = proxyLocalActivities<ApprovalActivities>(STORAGE_OPTIONS);

/**
 * How a turn reads the model's tool calls, shared by every workflow that runs turns (channels,
 * heartbeats): pure functions, so both replay the same way; and the permission checks of the tools
 * the channel workflow carries out itself (one local activity each, behind their patches).
 */

/** Tools after which the turn ends without another LLM call, when they are all the model asked for. */
const TERMINAL_TOOLS = new Set(['reply', 'skip']);

/** The text of a well-formed `reply` call; anything else goes to the tool activity, which explains the error. */
export function replyTextOf(call: ToolCall): string | undefined {
  if (call.name !== 'reply') return undefined;
  const text = call.input.text;
  return typeof text === 'string' && text.trim() ? text : undefined;
}

/** True when every call was a well-formed reply or a skip: the turn is over. */
export function endsTurn(calls: ToolCall[]): boolean {
  return calls.every((c) => TERMINAL_TOOLS.has(c.name) && (c.name !== 'reply' || replyTextOf(c) !== undefined));
}

/**
 * Whether the message a turn answers may start a worker, and with what tool policy (an activity:
 * the config as it is now). Undefined in histories recorded before the check: no check, as then.
 */
export async function workerStartPermit(key: ChannelKey, answering: InboundMessage[]): Promise<WorkerStartPermit | undefined> {
  if (!patched('spawn-worker-permission')) return undefined;
  return checkWorkerStart(key, answering);
}

/**
 * Whether the message a turn answers may send a follow-up to a running interactive worker (`route`).
 * The same check as starting one: a follow-up reaches the worker's shell and file tools, so a user
 * outside worker_users must not steer a worker someone on the list started. Undefined in histories
 * recorded before the check (its own patch: it adds a local activity to route).
 */
export async function workerRoutePermit(key: ChannelKey, answering: InboundMessage[]): Promise<WorkerStartPermit | undefined> {
  if (!patched('route-worker-permission')) return undefined;
  return checkWorkerStart(key, answering);
}

function checkWorkerStart(key: ChannelKey, answering: InboundMessage[]): Promise<WorkerStartPermit> {
  return policy.checkWorkerStart({
    agentId: key.agentId,
    platform: key.platform,
    senders: answering.map((m) => m.sender?.id ?? null),
    bindingAutonomies: answering.flatMap((m) => (m.autonomy ? [m.autonomy] : [])),
  });
}

/**
 * The tool policy for branch, route and cancel, which the channel workflow carries out itself (the
 * tool activity, which refuses every other denied tool, never sees them): a model can call one the
 * deny list kept from it. The refusal reads as any other denied tool's. spawn_worker and route have
 * their own check of who asked (workerStartPermit, workerRoutePermit). Histories recorded before the check replay without it.
 */
export async function channelToolRefusal(agentId: string, tool: string): Promise<string | undefined> {
  if (tool === 'spawn_worker' || !patched('channel-tool-policy')) return undefined;
  const verdict = await policy.checkChannelTool({ agentId, tool });
  return verdict.allowed ? undefined : verdict.reason;
}
