import { WithStartWorkflowOperation, WorkflowUpdateStage, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { SpacebotConfig } from '../config/types.js';
import { AGENT, CONVERSATION, PLATFORM, PROCESS } from '../temporal/search-attributes.js';
import {
  cancelProcessUpdate,
  channelWorkflowId,
  processesQuery,
  setQueueModeUpdate,
  submitMessageUpdate,
  type ChannelKey,
  type ChannelSettings,
  type ChannelState,
  type InboundMessage,
  type QueueMode,
  type SubmitMessageResult,
} from '../../workflows/channel-contract.js';
import { DEFAULT_CHANNEL_SETTINGS, toolsTaskQueueFor } from '../../workflows/channel-settings.js';
import type { ProcessRecord } from '../../workflows/process-contract.js';
import type { AgentConfig } from '../config/types.js';
import type { channelWorkflow } from '../../workflows/channel.js';
import { ConversationBusyError, isQueueFullRejection } from './conversation-busy.js';
import type { InboundBodies } from './inbound-bodies.js';

export interface SubmitOptions extends ChannelKey {
  message: InboundMessage;
  /** Milliseconds to wait for the turn's replies; 0 or undefined returns once the message is accepted. */
  waitMs?: number;
}

export interface SubmitOutcome {
  workflowId: string;
  runId: string;
  /** True when the wait expired before the turn finished (the message is safe and will be answered). */
  timedOut: boolean;
  result?: SubmitMessageResult;
}

/** How many times to follow a channel into its next run while it continues as new. */
const MAX_RUN_HOPS = 5;

/**
 * Sends messages into channel workflows with update-with-start, so the first message of a
 * conversation creates its workflow. Shared by the webhook API and the platform adapters.
 */
export class ChannelClient {
  constructor(
    private readonly client: Client,
    private readonly config: SpacebotConfig,
    /**
     * Where bodies are written at intake, so only ids travel through Temporal. Without it (unit tests
     * of other parts) the text travels in the update, as it did before bodies were stored.
     */
    private readonly bodies?: InboundBodies,
  ) {}

  /**
   * Hands a message to its channel. Throws ConversationBusyError when the conversation's pending
   * queue is full (retry later), WorkflowUpdateFailedError when the workflow refused the message.
   */
  async submit(options: SubmitOptions): Promise<SubmitOutcome> {
    const workflowId = channelWorkflowId(options);
    const deadline = Date.now() + (options.waitMs ?? 0);
    const wait = (options.waitMs ?? 0) > 0;
    const message = await this.storeBody(workflowId, options.message);
    try {
      for (let hop = 0; ; hop++) {
        const handle = await this.client.workflow.startUpdateWithStart(submitMessageUpdate, {
          args: [{ message, wait }],
          waitForStage: WorkflowUpdateStage.ACCEPTED,
          // Same message, same update id: a retried POST is deduplicated by Temporal as well as by the workflow.
          updateId: `msg:${options.message.messageId}:${wait ? 'wait' : 'nowait'}:${hop}`,
          startWorkflowOperation: this.startOperation(options, workflowId),
        });
        const runId = handle.workflowRunId ?? '';
        const remaining = deadline - Date.now();
        const result = wait ? await withTimeout(handle.result(), Math.max(remaining, 0)) : await handle.result();
        if (!result) return { workflowId, runId, timedOut: true };
        if (result.status !== 'continued' || hop >= MAX_RUN_HOPS) return { workflowId, runId, timedOut: false, result };
      }
    } catch (err) {
      // The validator refused it for a full queue: backpressure the caller can act on, not a failure.
      if (isQueueFullRejection(err)) throw new ConversationBusyError(err.cause?.message ?? 'the conversation is busy', { cause: err });
      throw err;
    }
  }

  /** Writes the body before the update (first write wins), and returns the message without it. */
  private async storeBody(workflowId: string, message: InboundMessage): Promise<InboundMessage> {
    if (!this.bodies || message.text === undefined) return message;
    const { text, ...envelope } = message;
    await this.bodies.put(workflowId, message.messageId, text, envelope);
    return { ...envelope, bodyStored: true };
  }

  private startOperation(key: ChannelKey, workflowId: string) {
    const agent = this.config.agents.find((a) => a.id === key.agentId);
    const initial: ChannelState = {
      // Only the key: `key` may be the whole SubmitOptions, and its message must not ride in the start input.
      agentId: key.agentId,
      platform: key.platform,
      conversationId: key.conversationId,
      turnSeq: 0,
      seen: [],
      pending: [],
      continueAsNewAfterTurns: this.config.continueAsNewAfterTurns,
      maxLlmCallsPerTurn: agent?.maxLlmCallsPerTurn ?? 5,
      settings: { ...channelSettingsFor(agent, this.config.temporal.taskQueue), maxPendingMessages: this.config.maxPendingMessages },
    };
    return new WithStartWorkflowOperation<typeof channelWorkflow>('channelWorkflow', {
      workflowId,
      taskQueue: this.config.temporal.taskQueue,
      args: [initial],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: new TypedSearchAttributes([
        { key: AGENT, value: key.agentId },
        { key: PLATFORM, value: key.platform },
        { key: CONVERSATION, value: key.conversationId },
        { key: PROCESS, value: 'channel' },
      ]),
      memo: { agent: key.agentId, platform: key.platform, conversation: key.conversationId, process: 'channel' },
      staticSummary: `Conversation ${key.conversationId} on ${key.platform} with agent ${key.agentId}`,
    });
  }

  /** A running channel's branches and workers (running, and recently finished). */
  processes(key: ChannelKey): Promise<ProcessRecord[]> {
    return this.client.workflow.getHandle(channelWorkflowId(key)).query(processesQuery);
  }

  /** Overrides the agent's queue mode for one channel (null restores the agent's). */
  async setQueueMode(key: ChannelKey, queueMode: QueueMode | null): Promise<QueueMode> {
    const result = await this.client.workflow.getHandle(channelWorkflowId(key)).executeUpdate(setQueueModeUpdate, { args: [{ queueMode }] });
    return result.queueMode;
  }

  /** A user's stop: cancels the branch or worker; the channel tells the conversation. */
  async cancelProcess(key: ChannelKey, processId: string): Promise<boolean> {
    const result = await this.client.workflow.getHandle(channelWorkflowId(key)).executeUpdate(cancelProcessUpdate, { args: [{ id: processId }] });
    return result.cancelled;
  }
}

/** A channel's settings from its agent's config (fixed when the channel starts; carried across runs). */
export function channelSettingsFor(agent: AgentConfig | undefined, taskQueue: string): ChannelSettings {
  const p = agent?.processes;
  return {
    ...DEFAULT_CHANNEL_SETTINGS,
    ...(p ? { queueMode: p.queueMode, maxBranches: p.maxBranches, maxWorkers: p.maxWorkers, workerTimeLimitMs: p.workerTimeLimitMs, workerMaxLlmCalls: p.workerMaxLlmCalls, branchMaxLlmCalls: p.branchMaxLlmCalls, requireReplyTool: p.requireReplyTool } : {}),
    toolsTaskQueue: toolsTaskQueueFor(taskQueue),
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Deep link into the Temporal Web UI for a run. */
export function temporalUiLink(uiBase: string | undefined, namespace: string, workflowId: string, runId?: string): string | undefined {
  if (!uiBase) return undefined;
  const base = uiBase.replace(/\/$/, '');
  const wf = encodeURIComponent(workflowId);
  return runId ? `${base}/namespaces/${namespace}/workflows/${wf}/${runId}/history` : `${base}/namespaces/${namespace}/workflows/${wf}`;
}
