import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { toRunSummary, type RunSummary, type UiLinkOptions } from './list.js';
import { buildTimeline, type TimelineStep } from './timeline.js';
import { LeakGuard, redactDeep } from '../security/leak-guard.js';

export interface RunDetail extends RunSummary {
  steps: TimelineStep[];
}

/**
 * One run with its timeline: the latest run of the workflow id, or the given run. Undefined when
 * Temporal knows no such workflow (or run). Every text of the timeline (messages, tool results,
 * replies, errors) passes `guard`: histories hold what the model wrote and the API shows it to
 * whoever has the token; without a guard only the usual credential shapes are caught.
 */
export async function getRunDetail(
  client: Client,
  workflowId: string,
  runId: string | undefined,
  ui: UiLinkOptions,
  guard: LeakGuard = new LeakGuard(),
): Promise<RunDetail | undefined> {
  let description;
  try {
    description = await client.workflow.getHandle(workflowId, runId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  // Pin the run the description is about, so the history matches it even if a new run starts.
  const history = await client.workflow.getHandle(workflowId, description.runId).fetchHistory();
  const steps = buildTimeline(history, client.options.loadedDataConverter.payloadConverter);
  return redactDeep(guard, { ...toRunSummary(description, ui), steps });
}
