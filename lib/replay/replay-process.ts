import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HistoryReplayOutcome } from './replay-histories.js';

const REPLAY_TIMEOUT_MS = 120_000;

/**
 * Replays one run in a child process running scripts/replay.ts. Replaying bundles the workflow code
 * with webpack and runs a replay worker; a separate process keeps that weight (and any failure) out of
 * the API process. Runs the compiled script under dist/, else the TypeScript one through tsx.
 */
export function replayRunInChildProcess(opts: { address: string; namespace: string; workflowId: string; runId: string }): Promise<HistoryReplayOutcome> {
  const compiled = fileURLToPath(new URL('../../scripts/replay.js', import.meta.url));
  const source = fileURLToPath(new URL('../../scripts/replay.ts', import.meta.url));
  const script = existsSync(compiled) ? [compiled] : ['--import', 'tsx', source];
  const args = [...script, opts.workflowId, '--run-id', opts.runId, '--json'];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TEMPORAL_ADDRESS: opts.address, TEMPORAL_NAMESPACE: opts.namespace, LOG_LEVEL: 'error' };
  // What the script needs to find the master key and decode encrypted history, as this process found it.
  for (const name of ['SPACEBOT_MASTER_KEY', 'SPACEBOT_MASTER_KEY_PREVIOUS', 'SPACEBOT_DATA_DIR', 'SPACEBOT_CONFIG']) {
    if (process.env[name]) env[name] = process.env[name];
  }
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { env, timeout: REPLAY_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      // Exit 1 means a replay failed, and its outcome is on stdout; anything else without output is ours.
      try {
        const outcomes = JSON.parse(stdout) as HistoryReplayOutcome[];
        const outcome = outcomes[0];
        if (outcome) return resolve(outcome);
      } catch {
        // fall through to the error below
      }
      reject(new Error(`replay process failed${error ? ` (${error.message.split('\n')[0]})` : ''}: ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}
