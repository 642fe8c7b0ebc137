import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { findTemporalCli } from '../../lib/temporal/cli-path.js';
import { currentRelease, HISTORY_FIXTURES_DIR, releaseDirectory } from './fixture-layout.js';

export { HISTORY_FIXTURES_DIR } from './fixture-layout.js';

/**
 * With RECORD_HISTORIES=1 (`npm run fixtures:record`), saves every run of a workflow id as a replay
 * fixture, in the JSON form the temporal CLI and Web UI export, into the current release's directory
 * (fixture-layout.ts). The committed fixtures are replayed in CI against the current workflow code,
 * so a change that breaks determinism for running conversations fails the build. An existing fixture
 * is never overwritten: `npm run fixtures:freeze` then adds the new files to the manifest.
 */
export async function recordHistories(env: TestWorkflowEnvironment, workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const cli = await findTemporalCli();
  if (!cli) throw new Error('recording histories needs the temporal CLI');
  const runs: string[] = [];
  for await (const execution of env.client.workflow.list({ query: `WorkflowId = '${workflowId.replaceAll("'", "\\'")}'` })) {
    const json: string = execFileSync(cli.path, ['workflow', 'show', '--address', env.address, '--workflow-id', workflowId, '--run-id', execution.runId, '--output', 'json'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    // A run that has only just started holds no decision to replay; leave it out.
    if (json.includes('EVENT_TYPE_WORKFLOW_TASK_COMPLETED')) runs.push(json);
  }
  writeNewFixtures(releaseDirectory(currentRelease()), name, runs);
}

/**
 * Writes `<name>.json`, `<name>-1.json`, … (one per run) into `dir`, or nothing at all if any of them
 * exists: a recorded fixture is frozen. Returns the paths written.
 */
export function writeNewFixtures(dir: string, name: string, runs: string[]): string[] {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`fixture name ${JSON.stringify(name)}: use lower-case letters, digits and dashes`);
  const files = runs.map((_, i) => path.join(dir, `${name}${i ? `-${i}` : ''}.json`));
  const existing = files.filter((f) => existsSync(f));
  if (existing.length) {
    throw new Error(
      `refusing to overwrite recorded fixture ${existing.map((f) => path.relative(HISTORY_FIXTURES_DIR, f)).join(', ')}: recorded histories are frozen. ` +
        `Keep the old one (it must go on replaying), guard the workflow change with patched('<new-id>') and record the new behaviour under a new name.`,
    );
  }
  mkdirSync(dir, { recursive: true });
  files.forEach((f, i) => writeFileSync(f, runs[i] as string));
  return files;
}
