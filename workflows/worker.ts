import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { ChannelActivities, ContextEntryInput, ToolCall, WorkspaceToolActivities } from '../activities/contract.js';
import { LLM_OPTIONS, STORAGE_OPTIONS, TOOL_OPTIONS, WORKER_TOOL_OPTIONS } from './activity-options.js';
import { proxyActivitiesOn } from './queued-activities.js';
import { followUpSignal, processStatusQuery, type ProcessResult, type WorkerInput } from './process-contract.js';
import { failureText, reportFinished, reportProgress } from './process-reporting.js';
import { ToolLoopGuard } from './tool-loop-guard.js';
import { approvalGate, expireUnsettledApprovals } from './approval-gate.js';
import { isWorkspaceTool } from './workspace-tools.js';

const storage = proxyLocalActivities<ChannelActivities>(STORAGE_OPTIONS);
const llm = proxyActivitiesOn<ChannelActivities>('llm', LLM_OPTIONS);
/** Worker tools that need the database (memory tools), on the main queue beside it. */
const mainTools = proxyActivities<ChannelActivities>(TOOL_OPTIONS);

/** Nudges per round when the model stops without having reported an outcome through set_status. */
const MAX_OUTCOME_NUDGES = 2;
const MAX_STATUS_CHARS = 2000;
/**
 * Tool-call counts alone reach the channel at most this often: every signal is a workflow task on the
 * channel, and a busy worker must not slow the conversation down. A new status is sent at once.
 */
const PROGRESS_EVERY_MS = 10_000;

/**
 * A worker: carries out one task with a fresh context (the task and a brief from the channel) and
 * task tools that run on their own task queue. It keeps its channel's status block current through
 * `set_status`, must report an outcome that way before it may finish, and stops at its LLM call
 * and wall-clock limits. An interactive worker reports each round and waits for follow-ups.
 */
export async function workerWorkflow(input: WorkerInput): Promise<ProcessResult> {
  const tools = proxyActivities<ChannelActivities & WorkspaceToolActivities>({ ...WORKER_TOOL_OPTIONS, taskQueue: input.toolsTaskQueue });
  const register = { agentId: input.agentId, platform: input.platform, conversationId: input.conversationId, parentId: input.parentId, process: 'worker' as const };
  // Reporting the same status twice is not a loop.
  const guard = new ToolLoopGuard({ exempt: ['set_status'] });
  // The tool policy the worker started with; in a supervised worker, approvals (docs/security.md).
  const gate = approvalGate(input);
  const followUps: string[] = [];
  let llmCalls = 0;
  let toolCalls = 0;
  let status: string | undefined;
  let state: 'running' | 'waiting' = 'running';
  let timedOut = false;
  let reported: { status?: string; at: number } = { at: Date.now() };
  const progress = async () => {
    if (status === reported.status && Date.now() - reported.at < PROGRESS_EVERY_MS) return;
    reported = { status, at: Date.now() };
    await reportProgress(input.parentId, { id: input.id, toolCalls, status });
  };
  setHandler(followUpSignal, ({ text }) => void followUps.push(text));
  setHandler(processStatusQuery, () => ({ state, llmCalls, toolCalls, status }));

  /** One round: LLM calls and tools until the model stops (having reported) or the call limit. */
  const round = async (turn: number): Promise<string> => {
    let outcome: string | undefined;
    let lastText = '';
    let nudges = 0;
    for (let step = 1; llmCalls < input.maxLlmCalls; step++) {
      const result = await llm.callModel.executeWithOptions({ summary: `worker ${input.n}: LLM call ${llmCalls + 1}` }, [
        { channelId: input.id, turnSeq: turn, step, agentId: input.agentId, process: 'worker', taskType: input.taskType, parentId: input.parentId, autonomy: input.toolPolicy?.autonomy },
      ]);
      llmCalls++;
      if (result.text.trim()) lastText = result.text.trim();
      if (result.toolCalls.length === 0) {
        if (outcome !== undefined || nudges >= MAX_OUTCOME_NUDGES) break;
        nudges++;
        await storage.recordContext({ channelId: input.id, entries: [{ turnSeq: turn, step, idx: 1, role: 'user', text: OUTCOME_NUDGE }] });
        continue;
      }
      toolCalls += result.toolCalls.length;
      const entries: ContextEntryInput[] = [];
      let reportedDone = false;
      await Promise.all(
        result.toolCalls.map(async (call, idx) => {
          const at = { turnSeq: turn, step, idx: 1 + idx, role: 'tool' as const, toolCallId: call.id };
          const screened = guard.screen(call, { turnSeq: turn, step, idx });
          if (!screened.run) return entries.push(screened.blocked);
          if (screened.warning) entries.push(screened.warning);
          const set = setStatusOf(call);
          if (set) {
            status = set.status;
            if (set.done) {
              outcome = set.status;
              reportedDone = true;
            }
            return entries.push({ ...at, text: set.done ? 'Outcome recorded. Finish now (answer without tools).' : 'Status updated.' });
          }
          const refused = await gate?.screen(call, { turn, step, idx }, toolCalls);
          if (refused !== undefined) return entries.push({ ...at, text: refused, isError: true });
          const summary = { summary: `worker ${input.n}: tool ${call.name}` };
          const args = { channelId: input.id, turnSeq: turn, step, agentId: input.agentId, idx, call, process: 'worker' as const, parentId: input.parentId, platform: input.platform, conversationId: input.conversationId };
          if (!patched('worker-tools-without-db')) return tools.runTool.executeWithOptions(summary, [args]);
          // Shell and file tools run in the tools service, which has no database: the result comes
          // back and is recorded here with the step's other entries. Other tools store their own.
          if (!isWorkspaceTool(call.name)) return mainTools.runTool.executeWithOptions(summary, [args]);
          const result = await tools.runWorkspaceTool.executeWithOptions(summary, [{ agentId: input.agentId, channelId: input.parentId ?? input.id, call }]);
          return entries.push({ ...at, text: result.content, isError: result.isError });
        }),
      );
      if (entries.length) await storage.recordContext({ channelId: input.id, entries });
      await progress();
      // A round whose only calls reported the outcome is over: no need to ask the model again.
      if (reportedDone && result.toolCalls.every((c) => c.name === 'set_status')) break;
    }
    return outcome ?? status ?? (lastText || `The worker stopped after ${llmCalls} LLM calls without reporting an outcome.`);
  };

  const work = async (): Promise<string> => {
    await storage.recordContext({ channelId: input.id, register, entries: [{ turnSeq: 1, step: 0, idx: 0, role: 'user', text: taskPrompt(input) }] });
    let turn = 1;
    for (;;) {
      const outcome = await round(turn);
      if (!input.interactive || llmCalls >= input.maxLlmCalls) return outcome;
      state = 'waiting';
      await reportProgress(input.parentId, { id: input.id, toolCalls, status, roundOutcome: outcome });
      await condition(() => followUps.length > 0);
      state = 'running';
      turn++;
      const messages = followUps.splice(0);
      await storage.recordContext({
        channelId: input.id,
        entries: messages.map((text, i) => ({ turnSeq: turn, step: 0, idx: i, role: 'user', text: `[Follow-up from the conversation] ${text}` })),
      });
    }
  };

  try {
    // The wall-clock limit cancels the work scope; an outside cancel cancels the whole workflow.
    const scope = new CancellationScope();
    const limit = sleep(input.timeLimitMs).then(() => {
      timedOut = true;
      scope.cancel();
    });
    limit.catch(() => undefined);
    const outcome = await scope.run(work);
    await reportFinished(input.parentId, { id: input.id, state: 'completed', result: outcome, toolCalls });
    return { state: 'completed', result: outcome, llmCalls, toolCalls };
  } catch (err) {
    if (isCancellation(err) && timedOut) {
      await expireUnsettledApprovals(gate, 'timed_out');
      const text = `Stopped at its time limit (${Math.round(input.timeLimitMs / 60_000)} min).${status ? ` Last status: ${status}` : ''}`;
      await reportFinished(input.parentId, { id: input.id, state: 'failed', result: text, toolCalls });
      throw ApplicationFailure.nonRetryable(text, 'WorkerTimeLimit');
    }
    if (isCancellation(err)) {
      await expireUnsettledApprovals(gate, 'cancelled');
      await reportFinished(input.parentId, { id: input.id, state: 'cancelled', result: `Cancelled.${status ? ` Last status: ${status}` : ''}`, toolCalls });
      throw err;
    }
    const text = failureText(err);
    await expireUnsettledApprovals(gate, 'failed');
    await reportFinished(input.parentId, { id: input.id, state: 'failed', result: `The worker failed: ${text}`, toolCalls });
    throw ApplicationFailure.nonRetryable(`worker failed: ${text}`, 'WorkerFailed');
  }
}

/** A well-formed set_status call, handled here (it changes the channel's status block, not the world). */
function setStatusOf(call: ToolCall): { status: string; done: boolean } | undefined {
  if (call.name !== 'set_status') return undefined;
  const text = call.input.status;
  if (typeof text !== 'string' || !text.trim()) return undefined;
  return { status: text.trim().slice(0, MAX_STATUS_CHARS), done: call.input.done === true };
}

const OUTCOME_NUDGE =
  'You have not reported an outcome yet. Call set_status with done: true and a short outcome (what you did, what came of it, where results are) before you finish.';

function taskPrompt(input: WorkerInput): string {
  const brief = input.brief?.trim() ? `\n\nBrief from the conversation:\n${input.brief.trim()}` : '';
  return `[Task] ${input.task}${brief}\n\nWork in your workspace with your tools. Keep the conversation informed with set_status, and finish by calling set_status with done: true and your outcome.`;
}
