import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import type { ChannelActivities, HeartbeatActivities } from '../activities/contract.js';
import { HEARTBEAT_DELIVERY_OPTIONS, LLM_OPTIONS, STORAGE_OPTIONS, TOOL_OPTIONS } from './activity-options.js';
import { proxyActivitiesOn } from './queued-activities.js';
import { channelWorkflowId } from './channel-contract.js';
import { endsTurn, replyTextOf } from './turn-tools.js';
import {
  HEARTBEAT_OK,
  HEARTBEAT_PLATFORM,
  heartbeatScheduleId,
  isWithinActiveHours,
  type HeartbeatRunResult,
  type HeartbeatWorkflowInput,
} from './heartbeat-contract.js';

/**
 * One run of a heartbeat, started by its Temporal Schedule.
 *
 * Design: the workflow runs the turn itself with the channel's own activities (recordInbound,
 * callModel, runTool) against a fresh channel id of its own, `channel:<agent>:heartbeat:<id>:<runId>`,
 * instead of starting a child channelWorkflow. A child would need the prompt sent by signal (update-
 * with-start is not available from workflows), would stay open waiting for messages, and its reply
 * would go to a platform delivery we do not want; here the LLM calls and tool runs are the very same
 * activities (same context store, prompts, routing, fallbacks and usage records), the run is one short
 * workflow with a result, and channel.ts (and its replay fixtures) stays untouched.
 *
 * Failures (the model failing for good, a delivery that keeps failing) are counted by an activity
 * in Postgres and the run fails; after HEARTBEAT_FAILURE_LIMIT failures in a row that activity pauses
 * the schedule with a note. A success resets the count.
 */

/** Set by the Temporal scheduler on the workflows it starts: when this run was scheduled for. */
const SCHEDULED_START = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

const storage = proxyLocalActivities<ChannelActivities & HeartbeatActivities>(STORAGE_OPTIONS);
// The same limits as a channel's LLM calls and tools.
const llm = proxyActivitiesOn<ChannelActivities>('llm', LLM_OPTIONS);
const tools = proxyActivities<ChannelActivities>(TOOL_OPTIONS);
// A delivery runs by the same outbox protocol as a reply, with a heartbeat's shorter budget; if it
// still fails, the run fails (and the breaker counts it).
const delivery = proxyActivitiesOn<HeartbeatActivities>('delivery', HEARTBEAT_DELIVERY_OPTIONS);

export async function heartbeatWorkflow(input: HeartbeatWorkflowInput): Promise<HeartbeatRunResult> {
  const hb = input.definition;
  const info = workflowInfo();
  const scheduleId = heartbeatScheduleId(hb.agentId, hb.id);
  const scheduled = info.typedSearchAttributes.get(SCHEDULED_START);
  const scheduledAt = scheduled instanceof Date ? scheduled : new Date(info.startTime);

  // Checked here, at run time, from the scheduled time and the heartbeat's zone: deterministic, and a
  // run outside the window is skipped rather than queued.
  if (hb.activeHours && !isWithinActiveHours(scheduledAt, hb.timezone, hb.activeHours)) {
    log.info('heartbeat skipped: outside its active hours', { heartbeat: hb.id, scheduledAt: scheduledAt.toISOString() });
    return { status: 'skipped', delivered: false, reason: `outside active hours ${hb.activeHours.start}-${hb.activeHours.end} ${hb.timezone}` };
  }

  const outcome = (ok: boolean, error?: string) =>
    storage.recordHeartbeatOutcome({ scheduleId, agentId: hb.agentId, heartbeatId: hb.id, runId: info.runId, ok, error });

  try {
    // The heartbeat's timeout is enforced here, not only by Temporal's run timeout, so that a run that
    // overruns is counted by the circuit breaker like any other failure (a run killed by its own
    // timeout could not count itself). The schedule's run timeout stays as a backstop, a little later.
    return await CancellationScope.withTimeout(hb.timeoutSeconds * 1000, () => runHeartbeat(input, scheduledAt, outcome));
  } catch (err) {
    const timedOut = isCancellation(err);
    // A cancellation of the whole run (by a person) is not a timeout and not the heartbeat's failure.
    if (timedOut && CancellationScope.current().consideredCancelled) throw err;
    if (!timedOut && !(err instanceof ActivityFailure)) throw err;
    const message = timedOut ? `timed out after ${hb.timeoutSeconds} s` : ((err as ActivityFailure).cause?.message ?? (err as ActivityFailure).message);
    const counted = await outcome(false, message);
    throw ApplicationFailure.nonRetryable(
      `heartbeat ${hb.id} failed (${counted.consecutiveFailures} in a row${counted.paused ? '; schedule paused' : ''}): ${message}`,
      'HeartbeatFailed',
    );
  }
}

/** The turn itself: prompt in, the model's answer out to the target (or nowhere for HEARTBEAT_OK). */
async function runHeartbeat(
  input: HeartbeatWorkflowInput,
  scheduledAt: Date,
  outcome: (ok: boolean, error?: string) => Promise<unknown>,
): Promise<HeartbeatRunResult> {
  const hb = input.definition;
  const info = workflowInfo();
  const scheduleId = heartbeatScheduleId(hb.agentId, hb.id);
  const key = { agentId: hb.agentId, platform: HEARTBEAT_PLATFORM, conversationId: `${hb.id}:${info.runId}` };
  const channelId = channelWorkflowId(key);
  const base = { ...key, channelId, turnSeq: 1 };
  await storage.recordInbound({
    ...base,
    messages: [{ messageId: `heartbeat:${info.runId}`, text: promptFor(hb.id, hb.prompt), receivedAt: scheduledAt.toISOString() }],
  });
  const outputs: string[] = [];
  let skipped = false;
  for (let step = 1; step <= input.maxLlmCallsPerTurn; step++) {
    const result = await llm.callModel.executeWithOptions({ summary: `heartbeat ${hb.id}: LLM call ${step}` }, [
      { channelId, turnSeq: 1, step, agentId: hb.agentId },
    ]);
    if (result.text.trim()) outputs.push(result.text.trim());
    if (result.toolCalls.length === 0) break;
    for (const call of result.toolCalls) {
      const text = replyTextOf(call);
      if (text !== undefined) outputs.push(text.trim());
      if (call.name === 'skip') skipped = true;
    }
    // Every call goes through runTool (also reply and skip, whose results the model then sees).
    await Promise.all(
      result.toolCalls.map((call, idx) => tools.runTool.executeWithOptions({ summary: `tool ${call.name}` }, [{ channelId, turnSeq: 1, step, agentId: hb.agentId, idx, call }])),
    );
    if (endsTurn(result.toolCalls)) break;
  }
  const text = outputs.filter((t) => t !== HEARTBEAT_OK).join('\n\n').trim();
  if (skipped || !text) {
    await outcome(true);
    return { status: 'ok', delivered: false, reason: skipped ? 'skip tool called' : 'nothing to report' };
  }
  if (hb.target.kind === 'log') {
    log.info('heartbeat result', { heartbeat: hb.id, text });
  } else {
    await delivery.deliverHeartbeat.executeWithOptions({ summary: `deliver heartbeat ${hb.id} to ${hb.target.kind}` }, [
      {
        scheduleId,
        heartbeatId: hb.id,
        agentId: hb.agentId,
        workflowId: info.workflowId,
        runId: info.runId,
        target: hb.target,
        text,
        scheduledAt: scheduledAt.toISOString(),
      },
    ]);
  }
  await outcome(true);
  return { status: 'ok', delivered: hb.target.kind !== 'log', text };
}

function promptFor(id: string, prompt: string): string {
  return `${prompt}\n\n(Scheduled heartbeat "${id}". If there is nothing worth reporting, answer with exactly ${HEARTBEAT_OK}.)`;
}

