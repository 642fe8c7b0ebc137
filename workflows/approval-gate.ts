import { CancellationScope, condition, patched, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { ToolCall } from '../activities/contract.js';
import { isWriteTool, refusalText, toolVerdict, type WorkerToolPolicy } from './approval-policy.js';
import { STORAGE_OPTIONS } from './activity-options.js';
import { approvalDecidedSignal, type ApprovalActivities } from './approval-contract.js';
import type { WorkerInput } from './process-contract.js';
import { reportProgress } from './process-reporting.js';

// The notice goes to a chat platform, which may rate-limit: a regular activity, retried by the server.
const notify = proxyActivities<ApprovalActivities>(STORAGE_OPTIONS);
const local = proxyLocalActivities<ApprovalActivities>(STORAGE_OPTIONS);

/**
 * A worker's tool gate. Every call is checked against the policy the worker started with (a model
 * can call a tool it was never offered; this holds whichever activity would run it). In a supervised
 * worker a shell command or a file write or edit then waits: an approval is recorded and announced
 * in the conversation, and the worker waits, durably, for the decision signal or the timeout (which
 * denies). Any number of calls may wait at once.
 */
export class ApprovalGate {
  private readonly decided = new Set<string>();
  /** Calls whose approval was asked for and not yet settled (a cancel can interrupt any step). */
  private unsettled = 0;

  constructor(
    private readonly input: WorkerInput,
    private readonly policy: WorkerToolPolicy,
  ) {
    if (policy.autonomy === 'supervised') setHandler(approvalDecidedSignal, ({ id }) => void this.decided.add(id));
  }

  /** True while some call's approval was asked for and not settled. */
  get waiting(): boolean {
    return this.unsettled > 0;
  }

  get workerId(): string {
    return this.input.id;
  }

  /** Undefined: run the call. Otherwise the text the model reads instead of the tool's result. */
  async screen(call: ToolCall, at: { turn: number; step: number; idx: number }, toolCalls: number): Promise<string | undefined> {
    const verdict = toolVerdict(this.policy, this.policy.autonomy, call.name);
    if (!verdict.allowed) return verdict.reason;
    if (this.policy.autonomy !== 'supervised' || !isWriteTool(call.name)) return undefined;
    const { input } = this;
    this.unsettled++;
    const { id, timeoutMs } = await notify.requestApproval.executeWithOptions({ summary: `worker ${input.n}: approval for ${call.name}` }, [
      {
        agentId: input.agentId,
        workerId: input.id,
        workerRef: `worker/${input.n}`,
        channelId: input.parentId,
        platform: input.platform,
        conversationId: input.conversationId,
        key: `${input.id}:${at.turn}:${at.step}:${at.idx}:${call.id}`,
        call,
      },
    ]);
    await reportProgress(input.parentId, { id: input.id, toolCalls, status: `Waiting for approval [${id}] of ${call.name}` });
    const woken = await condition(() => this.decided.has(id), Math.max(timeoutMs, 1));
    const status = await local.settleApproval({ id, timedOut: !woken });
    this.unsettled--;
    if (status === 'approved') return undefined;
    if (status === 'pending') return refusalText(call.name, 'timed_out', timeoutMs);
    return refusalText(call.name, status, timeoutMs);
  }
}

/**
 * The worker is ending (cancelled, at its time limit, failed) while calls still wait: their approvals
 * expire now, so the approvals API shows them decided instead of pending until their deadline. Runs
 * even while the worker is being cancelled; histories recorded before it replay without it.
 */
export async function expireUnsettledApprovals(gate: ApprovalGate | undefined, ended: 'cancelled' | 'timed_out' | 'failed'): Promise<void> {
  if (!gate?.waiting || !patched('worker-expire-approvals')) return;
  await CancellationScope.nonCancellable(() => local.expireWorkerApprovals({ workerId: gate.workerId, ended }));
}

/**
 * The gate of a worker started with a tool policy. Workers recorded before policies carry none, and
 * the patch keeps the gate out of their replay all the same.
 */
export function approvalGate(input: WorkerInput): ApprovalGate | undefined {
  if (!input.toolPolicy || !patched('worker-approval-gate')) return undefined;
  return new ApprovalGate(input, input.toolPolicy);
}
