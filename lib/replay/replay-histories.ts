import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { workflowsPath } from '../runtime/worker.js';

export interface ReplayOutcome {
  file: string;
  ok: boolean;
  /** The history has no completed workflow task yet: there is no decision to check. */
  skipped?: boolean;
  /** The error's class name, e.g. DeterminismViolationError. */
  errorName?: string;
  error?: string;
}

const silent = () => undefined;
const quietLogger = { trace: silent, debug: silent, info: silent, log: silent, warn: silent, error: silent };

/**
 * Replays saved histories (JSON as exported by the temporal CLI or Web UI) against workflow code:
 * the current workflows by default, or another entry file. Determinism problems come back as
 * failed outcomes; nothing is thrown for them.
 */
export async function replayHistoryFiles(files: string[], entry = workflowsPath()): Promise<ReplayOutcome[]> {
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: entry, logger: quietLogger });
  const outcomes: ReplayOutcome[] = [];
  const histories: { workflowId: string; history: unknown }[] = [];
  for (const file of files) {
    const history = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    // The SDK's replayer never returns on a history without a completed workflow task (a run that
    // has only just started); such a history holds no workflow decision to check anyway.
    if (hasCompletedWorkflowTask(history)) histories.push({ workflowId: path.basename(file, '.json'), history });
    else outcomes.push({ file, ok: true, skipped: true });
  }
  const byId = new Map(files.map((file) => [path.basename(file, '.json'), file]));
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) {
    const file = byId.get(result.workflowId) ?? result.workflowId;
    outcomes.push(result.error ? { file, ok: false, errorName: result.error.name, error: result.error.message } : { file, ok: true });
  }
  return outcomes;
}

function hasCompletedWorkflowTask(history: unknown): boolean {
  const events = (history as { events?: { eventType?: unknown }[] } | null)?.events ?? [];
  return events.some((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED' || e.eventType === 'WorkflowTaskCompleted');
}
