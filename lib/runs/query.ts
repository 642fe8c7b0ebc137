import { AGENT, CONVERSATION, PROCESS } from '../temporal/search-attributes.js';

/**
 * Builds Temporal visibility queries (the SQL-like language of `client.workflow.list`) from
 * already-validated filters. Values are quoted and escaped here as well, so a value that slipped
 * past validation still cannot change the query's structure.
 */

/** Our status names (lower case, as the API returns them) → Temporal's `ExecutionStatus` values. */
export const RUN_STATUSES = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
  terminated: 'Terminated',
  continued_as_new: 'ContinuedAsNew',
  timed_out: 'TimedOut',
} as const;

export type RunStatus = keyof typeof RUN_STATUSES;

const STATUS_ALIASES: Record<string, RunStatus> = {
  ...Object.fromEntries(Object.keys(RUN_STATUSES).map((s) => [s.replaceAll('_', ''), s as RunStatus])),
  cancelled: 'canceled',
};

/** `running`, `Running`, `continued-as-new`, `ContinuedAsNew`, `CONTINUED_AS_NEW`... → our name; undefined if unknown. */
export function parseRunStatus(value: string): RunStatus | undefined {
  return STATUS_ALIASES[value.toLowerCase().replace(/[-_\s]/g, '')];
}

/** The SDK's status name (`CONTINUED_AS_NEW`, `CANCELLED`...) → ours. */
export function runStatusFromSdk(name: string): string {
  const ours = parseRunStatus(name);
  return ours ?? name.toLowerCase();
}

/** A quoted string literal for the visibility query language. */
export function quote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

export interface RunFilters {
  agent?: string;
  conversation?: string;
  /** A process (`SpacebotProcess`, e.g. `channel`) or a workflow type (e.g. `channelWorkflow`). */
  type?: string;
  status?: RunStatus;
  /** Only runs started after this instant. */
  startedAfter?: Date;
  /** Only runs still running (whenever they started) or closed after this instant: what a deploy meets. */
  runningOrClosedAfter?: Date;
}

/** The query for `client.workflow.list`; an empty string lists everything in the namespace. */
export function buildRunsQuery(filters: RunFilters): string {
  const clauses: string[] = [];
  if (filters.agent !== undefined) clauses.push(`${AGENT.name} = ${quote(filters.agent)}`);
  if (filters.conversation !== undefined) clauses.push(`${CONVERSATION.name} = ${quote(filters.conversation)}`);
  if (filters.type !== undefined) clauses.push(`(${PROCESS.name} = ${quote(filters.type)} OR WorkflowType = ${quote(filters.type)})`);
  if (filters.status !== undefined) clauses.push(`ExecutionStatus = ${quote(RUN_STATUSES[filters.status])}`);
  if (filters.startedAfter !== undefined) clauses.push(`StartTime > ${quote(filters.startedAfter.toISOString())}`);
  if (filters.runningOrClosedAfter !== undefined) {
    clauses.push(`(ExecutionStatus = ${quote(RUN_STATUSES.running)} OR CloseTime > ${quote(filters.runningOrClosedAfter.toISOString())})`);
  }
  return clauses.join(' AND ');
}

/** `24h`, `90m`, `7d`, `30s` or an ISO date → the instant it names (relative ones count back from `now`). */
export function parseSince(value: string, now = new Date()): Date | undefined {
  const relative = /^(\d+)\s*(s|m|h|d)$/.exec(value.trim());
  if (relative) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(relative[1]) * unit);
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim())) return undefined;
  const date = new Date(value.trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
}
