import { readFileSync } from 'node:fs';
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
  // Named by path: releases' fixture directories may hold files of the same name.
  const items = files.map((file) => ({ id: file, history: JSON.parse(readFileSync(file, 'utf8')) as unknown }));
  const outcomes = await replayHistories(items, entry);
  return outcomes.map(({ id, ...outcome }) => ({ file: id, ...outcome }));
}

export interface HistoryToReplay {
  /** Names the history in the outcome; unique within one call (e.g. `<workflowId>/<runId>`). */
  id: string;
  /** The SDK's History object (e.g. from `handle.fetchHistory()`) or its JSON form. */
  history: unknown;
}

export type HistoryReplayOutcome = Omit<ReplayOutcome, 'file'> & { id: string };

/**
 * Replays in-memory histories against workflow code (bundled once for all of them). Same rules as
 * replayHistoryFiles: determinism problems are failed outcomes, histories with nothing to check are skipped.
 */
export async function replayHistories(items: HistoryToReplay[], entry = workflowsPath()): Promise<HistoryReplayOutcome[]> {
  const outcomes: HistoryReplayOutcome[] = [];
  const histories: { workflowId: string; history: unknown }[] = [];
  for (const { id, history } of items) {
    // The SDK's replayer never returns on a history without a completed workflow task (a run that
    // has only just started); such a history holds no workflow decision to check anyway.
    if (hasCompletedWorkflowTask(history)) histories.push({ workflowId: id, history });
    else outcomes.push({ id, ok: true, skipped: true });
  }
  if (!histories.length) return outcomes;
  const workflowBundle = await bundleFor(entry);
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) {
    const id = result.workflowId;
    outcomes.push(result.error ? { id, ok: false, errorName: result.error.name, error: result.error.message } : { id, ok: true });
  }
  return outcomes;
}

// Workflow code does not change while a process runs: bundle each entry once (the API replays on
// request; bundling takes a second or two).
const bundles = new Map<string, ReturnType<typeof bundleWorkflowCode>>();

function bundleFor(entry: string): ReturnType<typeof bundleWorkflowCode> {
  let bundle = bundles.get(entry);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath: entry, logger: quietLogger });
    bundle.catch(() => bundles.delete(entry));
    bundles.set(entry, bundle);
  }
  return bundle;
}

function hasCompletedWorkflowTask(history: unknown): boolean {
  const events = (history as { events?: { eventType?: unknown; workflowTaskCompletedEventAttributes?: unknown }[] } | null)?.events ?? [];
  // JSON names the event type; the SDK's proto objects carry a number, but always the attributes.
  return events.some((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED' || e.eventType === 'WorkflowTaskCompleted' || e.workflowTaskCompletedEventAttributes != null);
}
