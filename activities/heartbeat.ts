import { ScheduleNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { sql } from 'kysely';
import type { DeliverHeartbeatInput, DeliverHeartbeatResult, HeartbeatOutcome, HeartbeatOutcomeInput } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { attemptDelivery } from './delivery-attempt.js';
import { recordDeliveryOnce } from '../lib/delivery/record.js';
import { leakGuardOf } from '../lib/security/leak-guard.js';
import { channelWorkflowId } from '../workflows/channel-contract.js';
import { HEARTBEAT_FAILURE_LIMIT } from '../workflows/heartbeat-contract.js';
import { countFailure, resetFailures } from '../lib/heartbeats/store.js';
import { guardPolicy } from '../lib/net/config.js';
import { FetchFailedError, UrlRefusedError } from '../lib/net/errors.js';
import { guardedFetch } from '../lib/net/guarded-fetch.js';

/** Per-attempt limit of a webhook POST; Temporal retries the activity. */
export const HEARTBEAT_WEBHOOK_TIMEOUT_MS = 10_000;
/** A webhook's answer is not used; reading a little of it is enough. */
const WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Delivers a heartbeat's result to its target, once per run: a conversation's transcript (through the
 * platform's outbound adapter, by the same outbox protocol as a reply) or a webhook URL.
 */
export function makeDeliverHeartbeat(deps: ActivityDeps) {
  return async function deliverHeartbeat(raw: DeliverHeartbeatInput): Promise<DeliverHeartbeatResult> {
    // An outbound message like any reply: a secret the model wrote is redacted before it is stored or sent.
    const { text, kinds } = leakGuardOf(deps).redact(raw.text);
    if (kinds.length) deps.logger.warn({ scheduleId: raw.scheduleId, kinds }, 'a heartbeat result held secrets; delivered redacted');
    const input = kinds.length ? { ...raw, text } : raw;
    const target = input.target;
    if (target.kind === 'log') return {};
    if (target.kind === 'webhook') return deliverToWebhook(deps, input, target.url);
    const adapter = deps.outbound.get(target.platform);
    if (!adapter) throw ApplicationFailure.nonRetryable(`no outbound adapter for platform "${target.platform}"`, 'HeartbeatTarget');
    const key = { agentId: input.agentId, platform: target.platform, conversationId: target.conversation };
    const channelId = channelWorkflowId(key);
    const deliveryKey = `${input.scheduleId}:${input.runId}`;
    const agent = deps.config.agents.find((a) => a.id === input.agentId);
    const delivery = await recordDeliveryOnce(deps.db, deliveryKey, async (tx) => {
      await tx
        .insertInto('channels')
        .values({ id: channelId, agent_id: input.agentId, platform: target.platform, conversation_id: target.conversation })
        .onConflict((oc) => oc.column('id').doUpdateSet({ last_message_at: sql`now()` }))
        .execute();
      const message = await tx
        .insertInto('messages')
        .values({
          channel_id: channelId,
          direction: 'outbound',
          platform_message_id: `heartbeat:${deliveryKey}`,
          sender_id: input.agentId,
          sender_name: agent?.name ?? input.agentId,
          text: input.text,
          reply_to: null,
          turn_seq: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return tx
        .insertInto('deliveries')
        .values({ key: deliveryKey, channel_id: channelId, message_id: message.id, platform: target.platform, status: 'pending' })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    // The same outbox protocol as replies: leased, part by part, a bounded budget. A delivery given up
    // fails the run (the breaker counts it); the row says why.
    const outcome =
      delivery.status === 'pending'
        ? await attemptDelivery({ db: deps.db, logger: deps.logger, redact: (message) => leakGuardOf(deps).redact(message).text }, deliveryKey, (progress) =>
            adapter.send({ deliveryKey, conversationId: target.conversation, text: input.text, progress }),
          )
        : delivery.status;
    if (outcome === 'failed') throw ApplicationFailure.nonRetryable(`heartbeat delivery ${deliveryKey} failed; see the deliveries row`, 'DeliveryFailed');
    return { messageId: delivery.message_id };
  };
}

/**
 * POSTs the result through the outbound URL guard (lib/net/guarded-fetch.ts): the webhook URL comes
 * from an API caller or a config, so it is resolved and checked at every send (loopback, private,
 * metadata... refused unless on `[network] allow`), redirects are re-checked, and the error stored
 * as the heartbeat's last error says only "refused" or "failed": a remote status (404 vs 401 vs a
 * closed port) would let whoever reads it map internal services. The status goes to the log.
 */
async function deliverToWebhook(deps: ActivityDeps, input: DeliverHeartbeatInput, url: string): Promise<DeliverHeartbeatResult> {
  let host = 'the webhook';
  try {
    host = new URL(url).host;
  } catch {
    // Refused just below, by the guard.
  }
  let res;
  try {
    res = await guardedFetch(url, {
      policy: guardPolicy(deps.config.network),
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `${input.workflowId}:${input.runId}` },
      body: JSON.stringify({
        agent: input.agentId,
        heartbeat: input.heartbeatId,
        scheduleId: input.scheduleId,
        workflowId: input.workflowId,
        runId: input.runId,
        scheduledAt: input.scheduledAt,
        text: input.text,
      }),
      timeoutMs: HEARTBEAT_WEBHOOK_TIMEOUT_MS,
      maxResponseBytes: WEBHOOK_MAX_RESPONSE_BYTES,
    });
  } catch (err) {
    if (err instanceof UrlRefusedError) {
      deps.logger.warn({ schedule: input.scheduleId, reason: err.reason }, 'heartbeat webhook refused by the outbound URL guard');
      // Not retried: the same URL would be refused again. The run fails and the breaker counts it.
      throw ApplicationFailure.nonRetryable(`webhook ${err.message}`, 'WebhookRefused');
    }
    if (err instanceof FetchFailedError) {
      deps.logger.warn({ schedule: input.scheduleId, host, reason: err.reason, detail: err.detail }, 'heartbeat webhook failed');
      throw new Error(`webhook ${err.message}`);
    }
    throw err;
  }
  if (res.status < 200 || res.status >= 300) {
    deps.logger.warn({ schedule: input.scheduleId, host, status: res.status }, 'heartbeat webhook did not accept the delivery');
    throw new Error(`webhook failed: ${host} did not accept the delivery`);
  }
  return { status: res.status };
}

/**
 * The circuit breaker. A success resets the count; a failure adds one (once per run), and the
 * HEARTBEAT_FAILURE_LIMIT-th in a row pauses the schedule with a note saying why. The count is in
 * Postgres rather than the schedule's memo: a memo cannot be changed after creation, and a row can be
 * updated atomically and idempotently (per run id) from a retried activity.
 */
export function makeRecordHeartbeatOutcome(deps: ActivityDeps) {
  return async function recordHeartbeatOutcome(input: HeartbeatOutcomeInput): Promise<HeartbeatOutcome> {
    if (input.ok) {
      await resetFailures(deps.db, input.scheduleId);
      return { consecutiveFailures: 0, paused: false };
    }
    const error = (input.error ?? 'unknown error').slice(0, 500);
    const count = await countFailure(deps.db, input, input.runId, error);
    if (count < HEARTBEAT_FAILURE_LIMIT) return { consecutiveFailures: count, paused: false };
    if (!deps.temporal) {
      deps.logger.warn({ schedule: input.scheduleId }, 'heartbeat failed repeatedly but no Temporal client to pause it');
      return { consecutiveFailures: count, paused: false };
    }
    try {
      await deps.temporal.schedule.getHandle(input.scheduleId).pause(`paused after ${count} consecutive failed runs; last error: ${error}`);
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return { consecutiveFailures: count, paused: false };
      throw err;
    }
    deps.logger.warn({ schedule: input.scheduleId, failures: count }, 'heartbeat paused after repeated failures');
    return { consecutiveFailures: count, paused: true };
  };
}
