import type { Client } from '@temporalio/client';
import { AGENT, PROCESS } from '../temporal/search-attributes.js';
import { buildRunsQuery } from './query.js';

export interface RunRef {
  workflowId: string;
  runId: string;
}

/** How a run is named in replay reports: `<workflowId>/<runId>`. */
export function runKey(workflowId: string, runId: string): string {
  return `${workflowId}/${runId}`;
}

/**
 * Every Spacebot run (one carrying our search attributes) started after `since`, oldest first.
 * Other workflows sharing the namespace are left out.
 */
export async function findRunsToReplay(client: Client, since: Date): Promise<RunRef[]> {
  const runs: RunRef[] = [];
  for await (const info of client.workflow.list({ query: buildRunsQuery({ startedAfter: since }) })) {
    const ours = info.typedSearchAttributes.get(PROCESS) !== undefined || info.typedSearchAttributes.get(AGENT) !== undefined;
    if (ours) runs.push({ workflowId: info.workflowId, runId: info.runId });
  }
  return runs.reverse();
}
