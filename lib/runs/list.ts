import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { temporalUiLink } from '../channel/channel-client.js';
import { AGENT, CONVERSATION, PARENT, PLATFORM, PROCESS } from '../temporal/search-attributes.js';
import { buildRunsQuery, runStatusFromSdk, type RunFilters } from './query.js';

/** One workflow run as the runs API lists it. */
export interface RunSummary {
  workflowId: string;
  runId: string;
  /** The workflow type, e.g. `channelWorkflow`. */
  type: string;
  /** Lower case: running, completed, failed, canceled, terminated, continued_as_new, timed_out. */
  status: string;
  startTime: string;
  closeTime?: string;
  agent?: string;
  platform?: string;
  conversation?: string;
  process?: string;
  parent?: string;
  historyLength: number;
  temporalUiUrl?: string;
}

export interface UiLinkOptions {
  temporalUiUrl?: string;
  namespace: string;
}

/** Lists runs matching the filters, newest first, at most `limit`. */
export async function listRuns(client: Client, filters: RunFilters, limit: number, ui: UiLinkOptions): Promise<RunSummary[]> {
  const query = buildRunsQuery(filters);
  const runs: RunSummary[] = [];
  for await (const info of client.workflow.list({ query: query || undefined, pageSize: Math.min(limit, 1000) })) {
    runs.push(toRunSummary(info, ui));
    if (runs.length >= limit) break;
  }
  return runs;
}

/** Search attributes first, the memo as a fallback (runs started before the attributes existed). */
export function toRunSummary(info: Omit<WorkflowExecutionInfo, 'raw'>, ui: UiLinkOptions): RunSummary {
  const memo = info.memo ?? {};
  const attr = (key: typeof AGENT, memoKey: string): string | undefined => {
    const value = info.typedSearchAttributes?.get(key);
    if (typeof value === 'string') return value;
    const fromMemo = memo[memoKey];
    return typeof fromMemo === 'string' ? fromMemo : undefined;
  };
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    type: info.type,
    status: runStatusFromSdk(info.status.name),
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
    agent: attr(AGENT, 'agent'),
    platform: attr(PLATFORM, 'platform'),
    conversation: attr(CONVERSATION, 'conversation'),
    process: attr(PROCESS, 'process'),
    parent: attr(PARENT, 'parent'),
    historyLength: info.historyLength,
    temporalUiUrl: temporalUiLink(ui.temporalUiUrl, ui.namespace, info.workflowId, info.runId),
  };
}
