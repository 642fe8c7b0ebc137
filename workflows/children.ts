import { ParentClosePolicy, startChild, type ChildWorkflowHandle } from '@temporalio/workflow';
import type { CompactorInput } from '../activities/contract.js';
import type { ChannelKey } from './channel-contract.js';
import { processWorkflowId, type BranchInput, type ProcessKind, type WorkerInput } from './process-contract.js';
import { AGENT, CONVERSATION, PARENT, PLATFORM, PROCESS } from './search-attributes.js';

/**
 * Starting a channel's children. They are abandoned on parent close, so a channel that continues as
 * new (or is reset) leaves its running work alone; children report back by signal to the channel's
 * workflow id, which every run of the channel shares.
 */
function childOptions(key: ChannelKey, parentId: string, kind: ProcessKind | 'compactor', id: string, summary: string) {
  return {
    workflowId: id,
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: [
      { key: AGENT, value: key.agentId },
      { key: PLATFORM, value: key.platform },
      { key: CONVERSATION, value: key.conversationId },
      { key: PROCESS, value: kind },
      { key: PARENT, value: parentId },
    ],
    memo: { agent: key.agentId, platform: key.platform, conversation: key.conversationId, process: kind, parent: parentId },
    staticSummary: summary,
  };
}

export function childId(parentId: string, kind: ProcessKind, n: number): string {
  return processWorkflowId(parentId, kind, n);
}

export function startBranch(key: ChannelKey, input: BranchInput): Promise<ChildWorkflowHandle<(i: BranchInput) => Promise<unknown>>> {
  return startChild('branchWorkflow', {
    ...childOptions(key, input.parentId, 'branch', input.id, `Branch ${input.n}: ${oneLine(input.question)}`),
    args: [input],
  });
}

export function startWorker(key: ChannelKey, input: WorkerInput): Promise<ChildWorkflowHandle<(i: WorkerInput) => Promise<unknown>>> {
  return startChild('workerWorkflow', {
    ...childOptions(key, input.parentId, 'worker', input.id, `Worker ${input.n}: ${oneLine(input.task)}`),
    args: [input],
  });
}

/** The compactor of one turn's context check: `<channel id>/compactor/<turn>`. */
export function startCompactor(key: ChannelKey, turn: number, input: CompactorInput): Promise<ChildWorkflowHandle<(i: CompactorInput) => Promise<unknown>>> {
  const id = `${input.channelId}/compactor/${turn}`;
  return startChild('compactorWorkflow', {
    ...childOptions(key, input.channelId, 'compactor', id, `Compact the oldest ${Math.round(input.fraction * 100)}% of turns through turn ${input.throughTurn}`),
    args: [input],
  });
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
