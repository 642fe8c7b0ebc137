import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeHistory } from '../temporal/decode-history.js';
import { PARENT } from '../temporal/search-attributes.js';
import type { BranchInput, ProcessRecord, WorkerInput } from '../../workflows/process-contract.js';
import { childNumberOf } from './recovery-store.js';

/**
 * A channel's branches and workers as Temporal knows them: they carry the SpacebotParent search
 * attribute (workflows/children.ts) and outlive any run of their channel (ABANDON), so a fresh run
 * finds the ones still running here and hears their results when they signal the channel's id.
 */

/** Children brought back, at most: the channel's own limits keep far fewer running. */
const MAX_RUNNING = 50;
/** The newest children looked at for the highest n (any state). */
const NEWEST_SEEN = 50;

const KINDS: Record<string, ProcessRecord['kind']> = { branchWorkflow: 'branch', workerWorkflow: 'worker' };

export interface ChildrenOfChannel {
  running: ProcessRecord[];
  /** The highest n among the running ones and the newest closed ones. */
  highestN: number;
}

export async function childrenOfChannel(client: Client, channelId: string): Promise<ChildrenOfChannel> {
  const parent = `${PARENT.name} = '${channelId.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  const running: ProcessRecord[] = [];
  let highestN = 0;
  for await (const info of client.workflow.list({ query: `${parent} AND ExecutionStatus = 'Running'`, pageSize: MAX_RUNNING })) {
    const kind = KINDS[info.type];
    const n = childNumberOf(channelId, info.workflowId);
    if (!kind || n === undefined) continue;
    highestN = Math.max(highestN, n);
    const input = await startInput(client, info.workflowId, info.runId);
    running.push({
      id: info.workflowId,
      kind,
      n,
      task: input ? ('task' in input ? input.task : input.question) : `(a ${kind} started by an earlier run)`,
      startedAt: info.startTime.toISOString(),
      state: 'running',
      toolCalls: 0,
      ...(input && 'interactive' in input && input.interactive ? { interactive: true } : {}),
      // Started and announced by the run that started it: only its outcome is still to be reported.
      reported: true,
    });
    if (running.length >= MAX_RUNNING) break;
  }
  let looked = 0;
  for await (const info of client.workflow.list({ query: parent, pageSize: NEWEST_SEEN })) {
    highestN = Math.max(highestN, childNumberOf(channelId, info.workflowId) ?? 0);
    if (++looked >= NEWEST_SEEN) break;
  }
  return { running, highestN };
}

/**
 * The child's start input (its task or question, whether it is interactive): the first event of its
 * history. Undefined when it cannot be read or is not what a child starts with: the child is tracked
 * all the same, under a placeholder task.
 */
async function startInput(client: Client, workflowId: string, runId: string): Promise<WorkerInput | BranchInput | undefined> {
  return readStartInput(client, workflowId, runId).catch(() => undefined);
}

async function readStartInput(client: Client, workflowId: string, runId: string): Promise<WorkerInput | BranchInput | undefined> {
  const page = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const payload = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) return undefined;
  const converter = client.options.loadedDataConverter;
  const decoded = await decodeHistory(payload as Payload, converter.payloadCodecs);
  const input = converter.payloadConverter.fromPayload<WorkerInput | BranchInput>(decoded);
  return input && typeof input === 'object' && (typeof (input as WorkerInput).task === 'string' || typeof (input as BranchInput).question === 'string') ? input : undefined;
}
