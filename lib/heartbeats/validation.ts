import { z } from 'zod';
import { HEARTBEAT_OVERLAPS, type HeartbeatDefinition, type HeartbeatSource } from '../../workflows/heartbeat-contract.js';
import { HHMM, isValidTimeZone, systemTimeZone } from './active-hours.js';
import { EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE } from '../../workflows/channel-contract.js';
import { guardPolicy, type NetworkConfig } from '../net/config.js';
import { literalHostProblem } from '../net/url-guard.js';

/** Limits shared by the config file, the API and the `cron` tool. */
export const MAX_HEARTBEAT_PROMPT_CHARS = 10_000;
export const MIN_HEARTBEAT_INTERVAL_SECONDS = 60;
export const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 25 * 60;
export const DEFAULT_MAX_HEARTBEATS_PER_AGENT = 20;

export const heartbeatIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, "-" and "_", at most 63');

export const targetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('log') }).strict(),
  z
    .object({
      kind: z.literal('channel'),
      platform: z.string().regex(/^[a-z][a-z0-9_-]{0,30}$/, 'a platform name, e.g. "webhook"').default('webhook'),
      conversation: z.string().regex(EXTERNAL_ID_PATTERN, `conversation ids ${EXTERNAL_ID_RULE}`),
    })
    .strict(),
  z.object({ kind: z.literal('webhook'), url: z.url({ protocol: /^https?$/ }) }).strict(),
]);

/**
 * A clear 400 when a webhook target names a forbidden address outright (127.0.0.1, 169.254.169.254,
 * [::ffff:127.0.0.1]...), unless `[network] allow` lets it through. Names are not resolved here: the
 * authoritative check is at every send (activities/heartbeat.ts), after DNS, redirects included.
 */
export function webhookTargetProblem(target: HeartbeatDefinition['target'], network: NetworkConfig | undefined): string | undefined {
  if (target.kind !== 'webhook') return undefined;
  const problem = literalHostProblem(target.url, guardPolicy(network).allow);
  return problem ? `webhook URL refused: ${problem}` : undefined;
}

/** Five or six space-separated fields, or a Temporal/robfig macro (@hourly, @daily, ...). The server checks the rest. */
const cronSchema = z
  .string()
  .trim()
  .regex(/^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4,5}\S+)$/, 'a cron expression of 5 (or 6) fields, e.g. "*/15 9-17 * * 1-5"');

/** The fields of a heartbeat as the API and the tool take them (camelCase); config uses snake_case. */
export const heartbeatFields = {
  prompt: z.string().trim().min(1, 'must not be empty').max(MAX_HEARTBEAT_PROMPT_CHARS, `must be at most ${MAX_HEARTBEAT_PROMPT_CHARS} characters`),
  cron: cronSchema,
  intervalSeconds: z
    .number()
    .int()
    .min(MIN_HEARTBEAT_INTERVAL_SECONDS, `must be at least ${MIN_HEARTBEAT_INTERVAL_SECONDS} seconds`)
    .max(366 * 86_400),
  timezone: z.string().refine(isValidTimeZone, 'not an IANA time zone, e.g. "Europe/Berlin"'),
  activeHours: z.object({ start: z.string().regex(HHMM, 'HH:MM'), end: z.string().regex(HHMM, 'HH:MM') }).strict(),
  timeoutSeconds: z.number().int().min(10).max(7 * 86_400),
  runOnce: z.boolean(),
  overlap: z.enum(HEARTBEAT_OVERLAPS as [string, ...string[]]),
  jitterSeconds: z.number().int().min(0).max(86_400),
  target: targetSchema,
};

const optionalFields = Object.fromEntries(Object.entries(heartbeatFields).map(([k, v]) => [k, v.optional()])) as {
  [K in keyof typeof heartbeatFields]: z.ZodOptional<(typeof heartbeatFields)[K]>;
};

export const heartbeatPatchSchema = z.object({ ...optionalFields, paused: z.boolean().optional() }).strict();
export const heartbeatCreateSchema = z
  .object({ id: heartbeatIdSchema, ...optionalFields, prompt: heartbeatFields.prompt, paused: z.boolean().optional() })
  .strict()
  .superRefine((v, ctx) => requireOneSchedule(v, ctx));

export type HeartbeatCreate = z.infer<typeof heartbeatCreateSchema>;
export type HeartbeatPatch = z.infer<typeof heartbeatPatchSchema>;

export function requireOneSchedule(v: { cron?: string; intervalSeconds?: number }, ctx: z.RefinementCtx, names = { cron: 'cron', interval: 'intervalSeconds' }): void {
  if ((v.cron === undefined) === (v.intervalSeconds === undefined)) {
    ctx.addIssue({ code: 'custom', path: [v.cron === undefined ? names.cron : names.interval], message: `give exactly one of ${names.cron} and ${names.interval}` });
  }
}

export interface HeartbeatDefaults {
  timezone?: string;
  timeoutSeconds: number;
}

/** A definition from validated input, with defaults: zone from the config, then the system's. */
export function toDefinition(agentId: string, source: HeartbeatSource, input: HeartbeatCreate, defaults: HeartbeatDefaults): HeartbeatDefinition {
  return {
    id: input.id,
    agentId,
    prompt: input.prompt,
    ...(input.cron !== undefined ? { cron: input.cron } : { intervalSeconds: input.intervalSeconds }),
    timezone: input.timezone ?? defaults.timezone ?? systemTimeZone(),
    ...(input.activeHours ? { activeHours: input.activeHours } : {}),
    timeoutSeconds: input.timeoutSeconds ?? defaults.timeoutSeconds,
    runOnce: input.runOnce ?? false,
    overlap: (input.overlap as HeartbeatDefinition['overlap'] | undefined) ?? 'skip',
    jitterSeconds: input.jitterSeconds ?? 0,
    target: (input.target as HeartbeatDefinition['target'] | undefined) ?? { kind: 'log' },
    source,
  };
}

/** Applies a PATCH to a definition; switching between cron and interval drops the other. */
export function applyPatch(def: HeartbeatDefinition, patch: HeartbeatPatch): HeartbeatDefinition {
  const next: HeartbeatDefinition = { ...def };
  if (patch.prompt !== undefined) next.prompt = patch.prompt;
  if (patch.cron !== undefined) {
    next.cron = patch.cron;
    delete next.intervalSeconds;
  }
  if (patch.intervalSeconds !== undefined) {
    next.intervalSeconds = patch.intervalSeconds;
    delete next.cron;
  }
  if (patch.timezone !== undefined) next.timezone = patch.timezone;
  if (patch.activeHours !== undefined) next.activeHours = patch.activeHours;
  if (patch.timeoutSeconds !== undefined) next.timeoutSeconds = patch.timeoutSeconds;
  if (patch.runOnce !== undefined) next.runOnce = patch.runOnce;
  if (patch.overlap !== undefined) next.overlap = patch.overlap as HeartbeatDefinition['overlap'];
  if (patch.jitterSeconds !== undefined) next.jitterSeconds = patch.jitterSeconds;
  if (patch.target !== undefined) next.target = patch.target as HeartbeatDefinition['target'];
  return next;
}
