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
 * The Spacebot runs (ones carrying our search attributes) a deploy has to be checked against: every
 * running one, however long ago it started (an idle conversation's run can be months old, and it is
 * exactly the one a new build will continue), and those closed after `since`. Oldest first; other
 * workflows sharing the namespace are left out.
 */
export async function findRunsToReplay(client: Client, since: Date): Promise<RunRef[]> {
  const runs: RunRef[] = [];
  for await (const info of client.workflow.list({ query: buildRunsQuery({ runningOrClosedAfter: since }) })) {
    const ours = info.typedSearchAttributes.get(PROCESS) !== undefined || info.typedSearchAttributes.get(AGENT) !== undefined;
    if (ours) runs.push({ workflowId: info.workflowId, runId: info.runId });
  }
  return runs.reverse();
}
