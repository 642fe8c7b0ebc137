import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import { HEARTBEAT_PLATFORM, type HeartbeatTarget } from '../../workflows/heartbeat-contract.js';
import { HeartbeatService, type HeartbeatView } from './schedules.js';
import { heartbeatFields, heartbeatIdSchema, toDefinition } from './validation.js';

/**
 * The `cron` tool's input. One flat object (providers want an object schema at the top), checked per
 * action in `runCronTool`; the limits (prompt length, interval) are the API's.
 */
export const cronToolInput = z
  .object({
    action: z.enum(['create', 'list', 'delete']).describe('create a heartbeat, list yours, or delete one by id'),
    id: heartbeatIdSchema.optional().describe('Heartbeat id (create, delete), e.g. "morning-summary"'),
    prompt: heartbeatFields.prompt.optional().describe('create: what to do on each run (at most 10,000 characters)'),
    interval_seconds: heartbeatFields.intervalSeconds.optional().describe('create: run every N seconds (at least 60); or give cron'),
    cron: heartbeatFields.cron.optional().describe('create: a cron expression, e.g. "0 9 * * 1-5"; or give interval_seconds'),
    timezone: heartbeatFields.timezone.optional().describe('create: IANA zone of the cron expression and active hours'),
    active_hours: heartbeatFields.activeHours.optional().describe('create: only run between start and end ("HH:MM", may wrap midnight)'),
    run_once: z.boolean().optional().describe('create: run a single time, then stop'),
    deliver_to: z.enum(['this_conversation', 'log']).optional().describe('create: where results go (default: this conversation)'),
  })
  .strict();

export type CronToolInput = z.infer<typeof cronToolInput>;

export interface CronToolDeps {
  temporal?: Client;
  config: SpacebotConfig;
  db: Kysely<Database>;
}

/** Carries out a `cron` call for the agent; a refusal is thrown and reaches the model as a tool error. */
export async function runCronTool(deps: CronToolDeps, input: CronToolInput, at: { agentId: string; channelId: string }): Promise<string> {
  if (!deps.temporal) throw new Error('heartbeats are not available in this worker (no Temporal client)');
  const service = new HeartbeatService(deps.temporal, deps.config, deps.db);
  const agentId = at.agentId;
  if (input.action === 'list') {
    const all = await service.list(agentId);
    if (!all.length) return 'You have no heartbeats.';
    return all.map(describe).join('\n');
  }
  if (!input.id) throw new Error('id is required');
  if (input.action === 'delete') {
    await service.delete(agentId, input.id);
    return `Deleted heartbeat "${input.id}".`;
  }
  if (!input.prompt) throw new Error('prompt is required to create a heartbeat');
  if ((input.cron === undefined) === (input.interval_seconds === undefined)) throw new Error('give exactly one of cron and interval_seconds');
  const here = conversationOf(at.channelId);
  const target: HeartbeatTarget = input.deliver_to !== 'log' && here && here.platform !== HEARTBEAT_PLATFORM ? { kind: 'channel', ...here } : { kind: 'log' };
  const def = toDefinition(
    agentId,
    'tool',
    {
      id: input.id,
      prompt: input.prompt,
      cron: input.cron,
      intervalSeconds: input.interval_seconds,
      timezone: input.timezone,
      activeHours: input.active_hours,
      runOnce: input.run_once,
      target,
    },
    deps.config.heartbeats,
  );
  const view = await service.create(def);
  return `Created heartbeat "${view.id}" (${describe(view)}).`;
}

function describe(h: HeartbeatView): string {
  const when = h.cron !== undefined ? `cron "${h.cron}" ${h.timezone}` : `every ${h.intervalSeconds} s`;
  const where = h.target.kind === 'channel' ? `to ${h.target.platform}:${h.target.conversation}` : h.target.kind === 'webhook' ? 'to a webhook' : 'to the log';
  const state = h.paused ? `paused${h.note ? ` (${h.note})` : ''}` : 'active';
  return `${h.id}: ${when}, ${where}, ${state}${h.runOnce ? ', once' : ''}; prompt: ${h.prompt.slice(0, 80)}`;
}

/** `channel:<agent>:<platform>:<conversation>` → platform and conversation (which may contain colons). */
function conversationOf(channelId: string): { platform: string; conversation: string } | undefined {
  const m = /^channel:[^:]+:([^:]+):(.+)$/.exec(channelId);
  return m ? { platform: m[1] as string, conversation: m[2] as string } : undefined;
}
