import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';

export const HISTORY_FIXTURES_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/histories');

/**
 * With RECORD_HISTORIES=1 (`npm run fixtures:record`), saves every run of a workflow id as a replay
 * fixture. The committed fixtures are replayed in CI against the current workflow code, so a change
 * that breaks determinism for running conversations fails the build.
 */
export async function recordHistories(client: Client, workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  mkdirSync(HISTORY_FIXTURES_DIR, { recursive: true });
  let i = 0;
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId.replaceAll("'", "\\'")}'` })) {
    const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    writeFileSync(path.join(HISTORY_FIXTURES_DIR, `${name}${i ? `-${i}` : ''}.json`), historyToJSON(history));
    i++;
  }
}
