import { ApplicationFailure, isCancellation, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { ChannelActivities, ContextEntryInput, ToolCall } from '../activities/contract.js';
import { LLM_OPTIONS, STORAGE_OPTIONS, TOOL_OPTIONS } from './activity-options.js';
import { proxyActivitiesOn } from './queued-activities.js';
import type { BranchInput, ProcessResult } from './process-contract.js';
import { failureText, reportFinished } from './process-reporting.js';
import { ToolLoopGuard } from './tool-loop-guard.js';

const storage = proxyLocalActivities<ChannelActivities>(STORAGE_OPTIONS);
const llm = proxyActivitiesOn<ChannelActivities>('llm', LLM_OPTIONS);
const tools = proxyActivities<ChannelActivities>(TOOL_OPTIONS);

/**
 * A branch: thinks about one question with a copy of its channel's context (taken at fork time) and
 * its own tools (memory, older transcript), then returns a conclusion. Its steps live under its own
 * context key, so none of them enter the channel's context; only the conclusion does, by signal.
 */
export async function branchWorkflow(input: BranchInput): Promise<ProcessResult> {
  const register = { agentId: input.agentId, platform: input.platform, conversationId: input.conversationId, parentId: input.parentId, process: 'branch' as const };
  const turn = input.forkTurn + 1;
  const position = { channelId: input.id, turnSeq: turn, agentId: input.agentId };
  const guard = new ToolLoopGuard();
  let llmCalls = 0;
  let toolCalls = 0;
  try {
    await storage.forkContext({ register, fromChannelId: input.parentId, toId: input.id, throughTurn: input.forkTurn });
    await storage.recordContext({
      channelId: input.id,
      register,
      entries: [{ turnSeq: turn, step: 0, idx: 0, role: 'user', text: branchPrompt(input.question) }],
    });
    let conclusion = '';
    for (let step = 1; step <= input.maxLlmCalls; step++) {
      const result = await llm.callModel.executeWithOptions({ summary: `branch ${input.n}: LLM call ${step}` }, [
        { ...position, step, process: 'branch', taskType: input.taskType, parentId: input.parentId },
      ]);
      llmCalls++;
      if (result.text.trim()) conclusion = result.text.trim();
      if (result.toolCalls.length === 0) break;
      toolCalls += result.toolCalls.length;
      await runTools(input, turn, step, result.toolCalls, guard);
    }
    const text = conclusion || `The branch used its ${input.maxLlmCalls} LLM calls without reaching a conclusion.`;
    await reportFinished(input.parentId, { id: input.id, state: 'completed', result: text });
    return { state: 'completed', result: text, llmCalls, toolCalls };
  } catch (err) {
    if (isCancellation(err)) {
      await reportFinished(input.parentId, { id: input.id, state: 'cancelled', result: 'Cancelled before it reached a conclusion.' });
      throw err;
    }
    const text = failureText(err);
    await reportFinished(input.parentId, { id: input.id, state: 'failed', result: `The branch failed: ${text}` });
    throw ApplicationFailure.nonRetryable(`branch failed: ${text}`, 'BranchFailed');
  }
}

async function runTools(input: BranchInput, turn: number, step: number, calls: ToolCall[], guard: ToolLoopGuard): Promise<void> {
  const entries: ContextEntryInput[] = [];
  await Promise.all(
    calls.map(async (call, idx) => {
      const screened = guard.screen(call, { turnSeq: turn, step, idx });
      if (!screened.run) return entries.push(screened.blocked);
      if (screened.warning) entries.push(screened.warning);
      return tools.runTool.executeWithOptions({ summary: `branch ${input.n}: tool ${call.name}` }, [
        { channelId: input.id, turnSeq: turn, step, agentId: input.agentId, idx, call, process: 'branch', parentId: input.parentId, platform: input.platform, conversationId: input.conversationId },
      ]);
    }),
  );
  if (entries.length) await storage.recordContext({ channelId: input.id, entries });
}

function branchPrompt(question: string): string {
  return `[Branch] You are a branch of this conversation, working on one question in the background. Nobody sees your steps; only your final answer goes back to the conversation.\nQuestion: ${question}\nUse your tools if they help, then answer with your conclusion as plain text.`;
}
