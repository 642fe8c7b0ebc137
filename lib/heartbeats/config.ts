import { z } from 'zod';
import type { HeartbeatDefinition } from '../../workflows/heartbeat-contract.js';
import { HHMM, isValidTimeZone } from './active-hours.js';
import {
  DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
  DEFAULT_MAX_HEARTBEATS_PER_AGENT,
  heartbeatFields,
  heartbeatIdSchema,
  requireOneSchedule,
  targetSchema,
  toDefinition,
} from './validation.js';

/** A chat user steers the `cron` tool: a few heartbeats per conversation, none more often than every 15 minutes. */
const DEFAULT_TOOL_MAX_PER_CONVERSATION = 5;
const DEFAULT_TOOL_MIN_INTERVAL_MINUTES = 15;
/** All conversations together: many chats (or many users) cannot add up to an unbounded number of schedules. */
const DEFAULT_TOOL_MAX_PER_AGENT = 20;

/** `[[heartbeats]]` entries of spacebot.toml (snake_case like the rest of the file). */
export const heartbeatConfigSchema = z
  .object({
    id: heartbeatIdSchema,
    /** Defaults to the first agent. */
    agent: z.string().optional(),
    prompt: heartbeatFields.prompt,
    cron: heartbeatFields.cron.optional(),
    interval_seconds: heartbeatFields.intervalSeconds.optional(),
    timezone: heartbeatFields.timezone.optional(),
    active_hours: z.object({ start: z.string().regex(HHMM, 'HH:MM'), end: z.string().regex(HHMM, 'HH:MM') }).strict().optional(),
    timeout_seconds: heartbeatFields.timeoutSeconds.optional(),
    run_once: z.boolean().optional(),
    overlap: heartbeatFields.overlap.optional(),
    jitter_seconds: heartbeatFields.jitterSeconds.optional(),
    target: targetSchema.optional(),
  })
  .strict()
  .superRefine((v, ctx) => requireOneSchedule({ cron: v.cron, intervalSeconds: v.interval_seconds }, ctx, { cron: 'cron', interval: 'interval_seconds' }));

/** `[heartbeat_defaults]` (a table of its own: `heartbeats` is the array of `[[heartbeats]]`). */
export const heartbeatDefaultsSchema = z
  .object({
    timezone: z.string().refine(isValidTimeZone, 'not an IANA time zone, e.g. "Europe/Berlin"').optional(),
    max_per_agent: z.number().int().min(0).max(1000).optional(),
    timeout_seconds: heartbeatFields.timeoutSeconds.optional(),
    /** The `cron` tool: heartbeats one conversation may have, and their shortest interval (lib/heartbeats/cron-tool.ts). */
    tool_max_per_conversation: z.number().int().min(0).max(100).optional(),
    tool_max_per_agent: z.number().int().min(0).max(1000).optional(),
    tool_min_interval_minutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
  })
  .strict();

export interface HeartbeatsConfig {
  /** Default zone of heartbeats that name none; else the system's. */
  timezone?: string;
  maxPerAgent: number;
  timeoutSeconds: number;
  /** Heartbeats the `cron` tool may keep per conversation (0: the tool creates none). */
  toolMaxPerConversation: number;
  /** Heartbeats the `cron` tool may keep per agent over all its conversations. */
  toolMaxPerAgent: number;
  /** Shortest interval between runs of a tool-made heartbeat, in seconds. */
  toolMinIntervalSeconds: number;
  /** The config-managed heartbeats, reconciled into schedules at start. */
  definitions: HeartbeatDefinition[];
}

export function resolveHeartbeats(
  entries: z.infer<typeof heartbeatConfigSchema>[] | undefined,
  defaults: z.infer<typeof heartbeatDefaultsSchema> | undefined,
  agentIds: string[],
  fail: (message: string) => never,
): HeartbeatsConfig {
  const timeoutSeconds = defaults?.timeout_seconds ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS;
  const seen = new Set<string>();
  const definitions = (entries ?? []).map((e, i) => {
    const agent = e.agent ?? agentIds[0] ?? 'main';
    if (!agentIds.includes(agent)) fail(`"heartbeats.${i}.agent": unknown agent "${agent}"`);
    if (seen.has(`${agent}:${e.id}`)) fail(`"heartbeats.${i}.id": duplicate heartbeat id "${e.id}" for agent "${agent}"`);
    seen.add(`${agent}:${e.id}`);
    return toDefinition(
      agent,
      'config',
      {
        id: e.id,
        prompt: e.prompt,
        cron: e.cron,
        intervalSeconds: e.interval_seconds,
        timezone: e.timezone,
        activeHours: e.active_hours,
        timeoutSeconds: e.timeout_seconds,
        runOnce: e.run_once,
        overlap: e.overlap,
        jitterSeconds: e.jitter_seconds,
        target: e.target,
      },
      { timezone: defaults?.timezone, timeoutSeconds },
    );
  });
  return {
    timezone: defaults?.timezone,
    maxPerAgent: defaults?.max_per_agent ?? DEFAULT_MAX_HEARTBEATS_PER_AGENT,
    timeoutSeconds,
    toolMaxPerConversation: defaults?.tool_max_per_conversation ?? DEFAULT_TOOL_MAX_PER_CONVERSATION,
    toolMaxPerAgent: defaults?.tool_max_per_agent ?? DEFAULT_TOOL_MAX_PER_AGENT,
    toolMinIntervalSeconds: (defaults?.tool_min_interval_minutes ?? DEFAULT_TOOL_MIN_INTERVAL_MINUTES) * 60,
    definitions,
  };
}
