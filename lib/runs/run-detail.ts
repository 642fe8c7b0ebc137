import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { toRunSummary, type RunSummary, type UiLinkOptions } from './list.js';
import { buildTimeline, type TimelineStep } from './timeline.js';

export interface RunDetail extends RunSummary {
  steps: TimelineStep[];
}

/**
 * One run with its timeline: the latest run of the workflow id, or the given run. Undefined when
 * Temporal knows no such workflow (or run).
 */
export async function getRunDetail(client: Client, workflowId: string, runId: string | undefined, ui: UiLinkOptions): Promise<RunDetail | undefined> {
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
  return { ...toRunSummary(description, ui), steps };
}
