import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { findTemporalCli } from '../../lib/temporal/cli-path.js';

export const HISTORY_FIXTURES_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/histories');

/**
 * With RECORD_HISTORIES=1 (`npm run fixtures:record`), saves every run of a workflow id as a replay
 * fixture, in the JSON form the temporal CLI and Web UI export. The committed fixtures are replayed
 * in CI against the current workflow code, so a change that breaks determinism for running
 * conversations fails the build.
 */
export async function recordHistories(env: TestWorkflowEnvironment, workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const cli = await findTemporalCli();
  if (!cli) throw new Error('recording histories needs the temporal CLI');
  mkdirSync(HISTORY_FIXTURES_DIR, { recursive: true });
  let i = 0;
  for await (const execution of env.client.workflow.list({ query: `WorkflowId = '${workflowId.replaceAll("'", "\\'")}'` })) {
    const json: string = execFileSync(cli.path, ['workflow', 'show', '--address', env.address, '--workflow-id', workflowId, '--run-id', execution.runId, '--output', 'json'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    // A run that has only just started holds no decision to replay; leave it out.
    if (!json.includes('EVENT_TYPE_WORKFLOW_TASK_COMPLETED')) continue;
    writeFileSync(path.join(HISTORY_FIXTURES_DIR, `${name}${i ? `-${i}` : ''}.json`), json);
    i++;
  }
}
