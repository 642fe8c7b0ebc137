/**
 * The heartbeat workflow's contract: its input (the heartbeat's definition, carried in the
 * schedule's action so that nothing lives in process memory), its result and the constants shared
 * by the workflow, the activities, the API and the `cron` tool. Types and constants only: safe to
 * import from workflow code.
 */

/** Where a heartbeat's result goes. */
export type HeartbeatTarget =
  /** Nowhere but the log (and the run's result in Temporal). */
  | { kind: 'log' }
  /** A conversation on a platform, through its outbound adapter (today: the webhook platform's transcript). */
  | { kind: 'channel'; platform: string; conversation: string }
  /** HTTP POST of a JSON body to a URL. */
  | { kind: 'webhook'; url: string };

export type HeartbeatOverlap = 'skip' | 'buffer_one' | 'buffer_all' | 'cancel_other' | 'terminate_other' | 'allow_all';
export const HEARTBEAT_OVERLAPS: readonly HeartbeatOverlap[] = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'];

/** Where a heartbeat was defined: config-managed ones are reconciled at start; the others are left alone. */
export type HeartbeatSource = 'config' | 'api' | 'tool';

/** Local time of day, `[start, end)`; `end <= start` wraps past midnight. */
export interface ActiveHours {
  start: string;
  end: string;
}

/** A heartbeat, fully resolved (defaults applied). */
export interface HeartbeatDefinition {
  id: string;
  agentId: string;
  prompt: string;
  /** Exactly one of `cron` and `intervalSeconds`. */
  cron?: string;
  intervalSeconds?: number;
  /** IANA time zone of the cron expression and of the active hours. */
  timezone: string;
  activeHours?: ActiveHours;
  /** Whole-run limit (workflow execution and run timeout). */
  timeoutSeconds: number;
  /** A schedule with a single action. */
  runOnce: boolean;
  overlap: HeartbeatOverlap;
  jitterSeconds: number;
  target: HeartbeatTarget;
  source: HeartbeatSource;
}

export interface HeartbeatWorkflowInput {
  definition: HeartbeatDefinition;
  maxLlmCallsPerTurn: number;
}

export interface HeartbeatRunResult {
  /** skipped: outside the active hours (no LLM call); ok: the turn ran. */
  status: 'skipped' | 'ok';
  /** True when something was sent to the target (false for HEARTBEAT_OK, a `skip` call or no text). */
  delivered: boolean;
  text?: string;
  reason?: string;
}

/** A reply made only of this token means "nothing to report": nothing is delivered. */
export const HEARTBEAT_OK = 'HEARTBEAT_OK';
/** The platform name of heartbeat channels: `channel:<agent>:heartbeat:<heartbeatId>:<runId>`. */
export const HEARTBEAT_PLATFORM = 'heartbeat';
/** Consecutive failed runs after which the schedule is paused. */
export const HEARTBEAT_FAILURE_LIMIT = 3;

export function heartbeatScheduleId(agentId: string, heartbeatId: string): string {
  return `heartbeat:${agentId}:${heartbeatId}`;
}

// Pure time-of-day arithmetic, used inside the heartbeat workflow: it depends only on its arguments
// (the scheduled time and the heartbeat's zone), so it is deterministic on replay.

export const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

export function minutesOfDay(hhmm: string): number {
  const m = HHMM.exec(hhmm);
  if (!m) throw new Error(`"${hhmm}" is not a time of day (HH:MM)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Minutes since local midnight of `at` in `timeZone`. */
export function localMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
  return (hour % 24) * 60 + minute;
}

/** Whether `at` falls in `[start, end)` local time; a window whose end is not after its start wraps midnight. */
export function isWithinActiveHours(at: Date, timeZone: string, hours: ActiveHours): boolean {
  const now = localMinutes(at, timeZone);
  const start = minutesOfDay(hours.start);
  const end = minutesOfDay(hours.end);
  if (start === end) return true;
  return start < end ? now >= start && now < end : now >= start || now < end;
}
