import { WorkflowNotFoundError, type Client, type WorkflowExecutionStatusName } from '@temporalio/client';
import { CORTEX_MEMO_KEY, cortexWorkflowId, runCortexPassSignal, type CortexStatus } from '../../workflows/cortex-contract.js';

/** What the API shows of an agent's cortex: the workflow's own status plus where to find the run. */
export interface CortexView {
  agentId: string;
  workflowId: string;
  /** Temporal's view of the run. */
  execution: Lowercase<WorkflowExecutionStatusName> | 'not_started';
  runId?: string;
  /** The workflow's status as of its last change (from its memo: readable without a worker). */
  status?: CortexStatus;
}

/**
 * Reads an agent's cortex from Temporal: `describe` and the memo the workflow keeps current at every
 * change of state (pass started or finished, paused, settings changed). No query, so this answers
 * also while no worker is polling.
 */
export async function describeCortex(client: Client, agentId: string): Promise<CortexView> {
  const workflowId = cortexWorkflowId(agentId);
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    const status = d.memo?.[CORTEX_MEMO_KEY] as CortexStatus | undefined;
    return { agentId, workflowId, execution: d.status.name.toLowerCase() as Lowercase<WorkflowExecutionStatusName>, runId: d.runId, ...(status ? { status } : {}) };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { agentId, workflowId, execution: 'not_started' };
    throw err;
  }
}

/** Asks a running cortex for a pass now. Undefined when the agent has no running cortex. */
export async function triggerCortexPass(client: Client, agentId: string): Promise<{ workflowId: string; runId?: string } | undefined> {
  const workflowId = cortexWorkflowId(agentId);
  const handle = client.workflow.getHandle(workflowId);
  try {
    await handle.signal(runCortexPassSignal);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  return { workflowId };
}
