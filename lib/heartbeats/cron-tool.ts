import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import { CLEAN_TEXT_RULE, isCleanText } from '../text/hygiene.js';
import { HEARTBEAT_PLATFORM, heartbeatScheduleId, type HeartbeatTarget } from '../../workflows/heartbeat-contract.js';
import { HeartbeatError, HeartbeatService, type HeartbeatView } from './schedules.js';
import { claim, countByAgent, ownedBy, ownerOf, release } from './tool-owners.js';
import { heartbeatFields, heartbeatIdSchema, toDefinition } from './validation.js';

/**
 * The `cron` tool's input. One flat object (providers want an object schema at the top), checked per
 * action in `runCronTool`; the limits (prompt length, interval) are the API's, tightened below.
 */
export const cronToolInput = z
  .object({
    action: z.enum(['create', 'list', 'delete']).describe('create a heartbeat, list the ones of this conversation, or delete one of them by id'),
    id: heartbeatIdSchema.optional().describe('Heartbeat id (create, delete), e.g. "morning-summary"'),
    prompt: heartbeatFields.prompt
      .refine(isCleanText, CLEAN_TEXT_RULE)
      .optional()
      .describe('create: what to do on each run (at most 10,000 characters)'),
    interval_seconds: heartbeatFields.intervalSeconds.optional().describe('create: run every N seconds (at least 900 unless configured otherwise); or give cron'),
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

/**
 * Carries out a `cron` call for the agent; a refusal is thrown and reaches the model as a tool error.
 *
 * Whoever chats steers the model, so the tool is scoped to the conversation it runs in: it lists and
 * deletes only heartbeats it created there (recorded in heartbeat_tool_owners), never the operator's
 * (API, config) nor another conversation's; a conversation keeps at most
 * `heartbeat_defaults.tool_max_per_conversation` of them, none running more often than
 * `tool_min_interval_minutes`, and the agent at most `tool_max_per_agent` over all conversations.
 *
 * Refused outright in heartbeat runs: each run is a conversation of its own (a new channel id per
 * run), so a per-conversation quota would not hold there, and a prompt like "each run, create five
 * heartbeats with this prompt" would multiply schedules without end.
 */
export async function runCronTool(deps: CronToolDeps, input: CronToolInput, at: { agentId: string; channelId: string }): Promise<string> {
  if (conversationOf(at.channelId)?.platform === HEARTBEAT_PLATFORM) {
    throw new Error('the cron tool is not available in heartbeat runs: a heartbeat cannot list, create or delete heartbeats');
  }
  if (!deps.temporal) throw new Error('heartbeats are not available in this worker (no Temporal client)');
  const service = new HeartbeatService(deps.temporal, deps.config, deps.db);
  const agentId = at.agentId;
  if (input.action === 'list') {
    const mine = await ownHeartbeats(deps, service, at);
    if (!mine.length) return 'This conversation has no heartbeats.';
    return mine.map(describe).join('\n');
  }
  if (!input.id) throw new Error('id is required');
  if (input.action === 'delete') {
    const mine = await ownHeartbeats(deps, service, at);
    if (!mine.some((h) => h.id === input.id)) throw new Error(`this conversation has no heartbeat "${input.id}" (the cron tool deletes only heartbeats it created here)`);
    await service.delete(agentId, input.id);
    await release(deps.db, heartbeatScheduleId(agentId, input.id));
    return `Deleted heartbeat "${input.id}".`;
  }
  if (!input.prompt) throw new Error('prompt is required to create a heartbeat');
  if ((input.cron === undefined) === (input.interval_seconds === undefined)) throw new Error('give exactly one of cron and interval_seconds');
  const { toolMaxPerConversation: quota, toolMaxPerAgent: agentQuota, toolMinIntervalSeconds: minInterval } = deps.config.heartbeats;
  if (input.interval_seconds !== undefined && input.interval_seconds < minInterval) {
    throw new Error(`interval_seconds must be at least ${minInterval} (${minInterval / 60} minutes)`);
  }
  const mine = await ownHeartbeats(deps, service, at);
  if (mine.length >= quota) throw new Error(`this conversation already has ${mine.length} heartbeats (at most ${quota}); delete one first`);
  // Rows of schedules deleted through the API count until a conversation lists its own again: a cap
  // that errs on the strict side, never the loose one.
  const agentCount = await countByAgent(deps.db, agentId);
  if (agentCount >= agentQuota) throw new Error(`this agent already has ${agentCount} heartbeats made by the cron tool (at most ${agentQuota}); delete one first`);

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
  const scheduleId = heartbeatScheduleId(agentId, def.id);
  // Claim the id for this conversation first: two conversations racing for one id cannot both own it.
  await forgetIfStale(deps, service, agentId, def.id);
  if (!(await claim(deps.db, { scheduleId, agentId, heartbeatId: def.id, channelId: at.channelId }))) throw new Error(`heartbeat "${def.id}" already exists`);
  try {
    // A cron expression's frequency is Temporal's to compute: created paused, checked, then started.
    const paused = def.cron !== undefined;
    let view = await service.create(def, { paused });
    if (paused) {
      const gap = shortestGapSeconds(view.nextRunTimes);
      if (gap !== undefined && gap < minInterval) {
        await service.delete(agentId, def.id);
        throw new Error(`cron "${def.cron}" runs every ${Math.round(gap / 60)} minutes or more often; at least ${minInterval / 60} minutes apart, please`);
      }
      view = await service.unpause(agentId, def.id, 'created by the cron tool');
    }
    return `Created heartbeat "${view.id}" (${describe(view)}).`;
  } catch (err) {
    await release(deps.db, scheduleId);
    throw err;
  }
}

/** This conversation's tool-made heartbeats that still exist; rows of schedules deleted elsewhere are forgotten. */
async function ownHeartbeats(deps: CronToolDeps, service: HeartbeatService, at: { agentId: string; channelId: string }): Promise<HeartbeatView[]> {
  const views: HeartbeatView[] = [];
  for (const owner of await ownedBy(deps.db, at.agentId, at.channelId)) {
    const view = await service.get(at.agentId, owner.heartbeatId).catch((err: unknown) => {
      if (err instanceof HeartbeatError && err.code === 'not_found') return undefined;
      throw err;
    });
    // An id reused by the operator after the tool's heartbeat was deleted is not the tool's.
    if (view && view.source === 'tool') views.push(view);
    else await release(deps.db, owner.scheduleId);
  }
  return views;
}

/** A row left by a heartbeat deleted through the API no longer holds its id. */
async function forgetIfStale(deps: CronToolDeps, service: HeartbeatService, agentId: string, id: string): Promise<void> {
  const scheduleId = heartbeatScheduleId(agentId, id);
  if (!(await ownerOf(deps.db, scheduleId))) return;
  const exists = await service.describe(agentId, id).then(
    () => true,
    (err: unknown) => {
      if (err instanceof HeartbeatError && err.code === 'not_found') return false;
      throw err;
    },
  );
  if (!exists) await release(deps.db, scheduleId);
}

function shortestGapSeconds(times: string[]): number | undefined {
  let shortest: number | undefined;
  for (let i = 1; i < times.length; i++) {
    const gap = (Date.parse(times[i] as string) - Date.parse(times[i - 1] as string)) / 1000;
    if (shortest === undefined || gap < shortest) shortest = gap;
  }
  return shortest;
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
