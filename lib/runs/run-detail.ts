import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { toRunSummary, type RunSummary, type UiLinkOptions } from './list.js';
import { buildTimeline, type TimelineStep } from './timeline.js';
import { LeakGuard, redactDeep } from '../security/leak-guard.js';
import { decodeHistory } from '../temporal/decode-history.js';

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
  /** Message bodies by id: histories hold only ids (bodies are stored at intake, lib/channel/inbound-bodies.ts). */
  texts?: (messageIds: string[]) => Promise<Map<string, string>>,
): Promise<RunDetail | undefined> {
  let description;
  try {
    description = await client.workflow.getHandle(workflowId, runId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  // Pin the run the description is about, so the history matches it even if a new run starts.
  // Decoded through the client's codec: with `[temporal] encrypt_history` the server holds ciphertext.
  const history = await decodeHistory(await client.workflow.getHandle(workflowId, description.runId).fetchHistory(), client.options.loadedDataConverter.payloadCodecs);
  const steps = buildTimeline(history, client.options.loadedDataConverter.payloadConverter);
  const bodiless = steps.filter((s) => s.kind === 'message' && s.text === undefined && typeof s.messageId === 'string');
  if (texts && bodiless.length) {
    const found = await texts(bodiless.map((s) => s.messageId as string));
    for (const s of bodiless) s.text = found.get(s.messageId as string);
  }
  return redactDeep(guard, { ...toRunSummary(description, ui), steps });
}
