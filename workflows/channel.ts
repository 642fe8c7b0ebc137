import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  DeterminismViolationError,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChannelActivities, CompactionActivities, ContextEntryInput, DeliverReplyInput, ModelStep, RecoveredChannel, ToolCall, ToolOutcome } from '../activities/contract.js';
import { LLM_FAILURE_TYPE_PREFIX } from '../activities/contract.js';
import { DELIVERY_OPTIONS, LLM_OPTIONS, STORAGE_OPTIONS, TOOL_OPTIONS } from './activity-options.js';
import { BoundedSet } from './bounded-set.js';
import { carriedProcesses } from './carried-processes.js';
import { startWithFreeId } from './child-start.js';
import { proxyActivitiesOn } from './queued-activities.js';
import { channelSettings } from './channel-settings.js';
import { needsRecovery, recoverChannel } from './channel-recovery.js';
import { childId, startBranch, startCompactor, startWorker } from './children.js';
import { compactionAction } from './compaction-policy.js';
import { decideNudge } from './nudge.js';
import { ToolLoopGuard } from './tool-loop-guard.js';
import { channelToolRefusal, endsTurn, replyTextOf, workerRoutePermit, workerStartPermit } from './turn-tools.js';
import { WEBHOOK_PLATFORM } from './platforms.js';
import { maxPendingOf, refuseWhenQueueFull, validateInbound } from './inbound-validation.js';
import {
  QUEUE_MODES,
  cancelProcessUpdate,
  channelWorkflowId,
  processesQuery,
  setQueueModeUpdate,
  statusQuery,
  submitMessageUpdate,
  type ChannelState,
  type InboundMessage,
  type QueueMode,
  type ReplyRecord,
  type SubmitMessageInput,
  type SubmitMessageResult,
} from './channel-contract.js';
import {
  followUpSignal,
  isActive,
  processFinishedSignal,
  processProgressSignal,
  type ProcessKind,
  type ProcessOutcome,
  type ProcessProgress,
  type ProcessRecord,
} from './process-contract.js';
import { ref, renderStatusBlock, resultMessage } from './status-block.js';
import type { WorkerToolPolicy } from './approval-policy.js';

/** Message ids remembered for deduplication (carried across continue-as-new). */
const SEEN_LIMIT = 2000;
/** Turns whose replies stay in memory for late `wait` callers; older ones are read from the database. */
const REPLY_MEMORY_TURNS = 32;
/** Finished processes kept for the processes query once reported. */
const FINISHED_KEPT = 20;
/** Context indexes of entries the workflow adds within a step: after the step's tool results. */
const STEERED_IDX = 1000;
const RESULTS_IDX = 100;
// Bookkeeping writes to our own database take milliseconds: they run as local activities (retried,
// recorded in history as markers) so a turn does not pay a server round trip for each of them.
const localStorage = proxyLocalActivities<ChannelActivities & CompactionActivities>(STORAGE_OPTIONS);

// Deliveries to a chat platform may wait out rate limits and outages: regular activities, visible
// and retried by the server. The webhook platform's delivery is a database write, so it runs locally.
const platformDelivery = proxyActivitiesOn<ChannelActivities>('delivery', DELIVERY_OPTIONS);

const llm = proxyActivitiesOn<ChannelActivities>('llm', LLM_OPTIONS);
const tools = proxyActivities<ChannelActivities>(TOOL_OPTIONS);

/** Tools the workflow carries out itself when their arguments are well formed. */
const PROCESS_TOOLS = new Set(['branch', 'spawn_worker', 'route', 'cancel']);

/**
 * One conversation. Messages arrive by update (usually update-with-start), are deduplicated by their
 * platform id and queued; the main loop runs one turn at a time. Handlers never wait on a turn unless
 * the caller asked to (`wait`), so intake never blocks. Messages that arrive while a turn runs are
 * handled by the queue mode; branches and workers run as child workflows and report back by signal,
 * and the channel runs a turn on their results so the user hears about finished work unprompted.
 */
export async function channelWorkflow(initial: ChannelState): Promise<void> {
  const channelId = channelWorkflowId(initial);
  const key = { agentId: initial.agentId, platform: initial.platform, conversationId: initial.conversationId };
  const settings = channelSettings(initial.settings, workflowInfo().taskQueue);
  const seen = new BoundedSet(initial.seen, SEEN_LIMIT);
  const queue: InboundMessage[] = [...initial.pending];
  /** The turn each recent message was (or is being) answered in. */
  const messageTurn = new Map<string, number>();
  const turnReplies = new Map<number, ReplyRecord[]>();
  const processes: ProcessRecord[] = [...(initial.processes ?? [])];
  let processSeq = initial.processSeq ?? 0;
  let queueModeOverride = initial.queueModeOverride;
  let turnSeq = initial.turnSeq;
  let completedTurnSeq = initial.turnSeq;
  let runningTurn: number | undefined;
  let turnScope: CancellationScope | undefined;
  let turnsThisRun = 0;
  let resultTurnsSinceUser = 0;
  let draining = false;
  // Multi-user debounce: when the previous message arrived, and since when messages come in a burst.
  let lastArrival: number | undefined;
  let burstSince: number | undefined;
  /** A compactor child of this run is summarising: do not start another. */
  let compacting = false;
  /** The turn whose compactor could not be started: not tried again within it. */
  let compactorRefusedTurn: number | undefined;
  /**
   * The run takes over from a closed one (channel-recovery.ts): until its state is read, submitted
   * messages and children's signals wait, so a message is never judged new (or a duplicate) against
   * an empty memory, and no child's result is dropped for want of its record.
   */
  let recovering = needsRecovery(initial);
  /** Messages recovery brought back whose own submission has not arrived: when it does, it is not a duplicate. */
  const recoveredUnclaimed = new Set<string>();
  /** Children's signals that arrived while recovering, applied once their records are back. */
  const heldSignals: (() => void)[] = [];

  const queueMode = (): QueueMode => queueModeOverride ?? settings.queueMode;
  const isAnswered = (id: string): boolean => {
    if (queue.some((m) => m.messageId === id)) return false;
    const turn = messageTurn.get(id);
    return turn === undefined || turn <= completedTurnSeq;
  };

  const resultFor = (id: string, duplicate: boolean): SubmitMessageResult => {
    const turn = messageTurn.get(id);
    if (!isAnswered(id)) return { messageId: id, duplicate, status: draining ? 'continued' : 'queued', turnSeq: turn };
    return { messageId: id, duplicate, status: 'completed', turnSeq: turn, replies: turn === undefined ? undefined : turnReplies.get(turn) };
  };

  // Defined before the handlers: update-with-start delivers the first message as soon as they are set.
  const noteArrival = (message: InboundMessage) => {
    const now = Date.now();
    if (message.isDirect === false && lastArrival !== undefined && now - lastArrival < settings.debounceMs) burstSince ??= lastArrival;
    lastArrival = now;
  };

  const cancelProcess = async (id: string, reported: boolean): Promise<boolean> => {
    const p = processes.find((x) => x.id === id);
    if (!p || !isActive(p)) return false;
    try {
      await getExternalWorkflowHandle(id).cancel();
    } catch (err) {
      log.warn('cancelling a process failed', { id, error: (err as Error).message });
      // Its run closed without a word to us (terminated, say): the record stops holding a slot.
      markGone(p);
      return false;
    }
    p.state = 'cancelled';
    p.result ??= 'Cancelled.';
    p.finishedAt = new Date().toISOString();
    p.reported = reported;
    return true;
  };

  setHandler(
    submitMessageUpdate,
    async ({ message, wait }: SubmitMessageInput): Promise<SubmitMessageResult> => {
      if (recovering) await condition(() => !recovering);
      // Brought back by recovery (it was waiting at intake) and not yet answered: this is its own
      // submission. Once answered, a submission is a retry like any other: a duplicate.
      const claimed = recoveredUnclaimed.delete(message.messageId) && !isAnswered(message.messageId);
      const duplicate = !claimed && seen.has(message.messageId);
      if (!duplicate && !claimed) {
        seen.add(message.messageId);
        queue.push(message);
        noteArrival(message);
        // Interrupt mode: the running turn stops at once and the next turn answers what is queued.
        if (queueMode() === 'interrupt' && turnScope && runningTurn !== undefined) turnScope.cancel();
      }
      if (!wait) return { messageId: message.messageId, duplicate, status: 'queued', turnSeq: messageTurn.get(message.messageId) };
      await condition(() => draining || isAnswered(message.messageId));
      return resultFor(message.messageId, duplicate);
    },
    {
      validator: ({ message }: SubmitMessageInput) => {
        validateInbound(message);
        // The pending queue is bounded: past it the update is refused here, before it touches the history.
        if (!seen.has(message.messageId)) refuseWhenQueueFull(queue.length, maxPendingOf(settings));
      },
    },
  );


  setHandler(statusQuery, () => ({
    turnSeq,
    running: runningTurn !== undefined,
    queued: queue.length,
    completedTurns: completedTurnSeq,
    queueMode: queueMode(),
    runningProcesses: processes.filter(isActive).length,
  }));
  setHandler(processesQuery, () => processes.map((p) => ({ ...p })));
  setHandler(
    setQueueModeUpdate,
    ({ queueMode: mode }) => {
      queueModeOverride = mode ?? undefined;
      return { queueMode: queueMode() };
    },
    { validator: ({ queueMode: mode }) => validateQueueMode(mode) },
  );
  // A user's stop: the channel tells the conversation in a results turn.
  setHandler(cancelProcessUpdate, async ({ id }) => {
    if (recovering) await condition(() => !recovering);
    return { cancelled: await cancelProcess(id, false) };
  });

  const onProgress = (progress: ProcessProgress) => {
    const p = processes.find((x) => x.id === progress.id);
    if (!p || !isActive(p)) return;
    p.toolCalls = progress.toolCalls;
    if (progress.status !== undefined) p.status = progress.status;
    if (progress.roundOutcome !== undefined) {
      // An interactive worker finished a round: report it like a finished process, keep it listed as waiting.
      p.state = 'waiting';
      p.result = progress.roundOutcome;
      p.reported = false;
    } else if (p.state === 'waiting') {
      p.state = 'running';
    }
  };
  const onFinished = (outcome: ProcessOutcome) => {
    const p = processes.find((x) => x.id === outcome.id);
    if (!p) return;
    const wasFinal = !isActive(p);
    p.state = outcome.state;
    p.result = outcome.result;
    if (outcome.toolCalls !== undefined) p.toolCalls = outcome.toolCalls;
    p.finishedAt ??= new Date().toISOString();
    // A process cancelled from here already counts as finished; its own word only refines the record.
    if (!wasFinal) p.reported = false;
  };
  setHandler(processProgressSignal, (progress) => (recovering ? void heldSignals.push(() => onProgress(progress)) : onProgress(progress)));
  setHandler(processFinishedSignal, (outcome) => (recovering ? void heldSignals.push(() => onFinished(outcome)) : onFinished(outcome)));


  const unreported = () => processes.filter((p) => !p.reported && (p.state === 'waiting' || !isActive(p)));
  const resultTurnDue = () => unreported().length > 0 && resultTurnsSinceUser < settings.maxResultTurns;
  const shouldContinueAsNew = () => workflowInfo().continueAsNewSuggested || turnsThisRun >= initial.continueAsNewAfterTurns;

  const runTurn = async (batch: InboundMessage[]): Promise<void> => {
    const turn = ++turnSeq;
    runningTurn = turn;
    for (const m of batch) messageTurn.set(m.messageId, turn);
    const replies: ReplyRecord[] = [];
    turnReplies.set(turn, replies);
    let trigger = batch[batch.length - 1];
    /** Every message the turn answers: all their senders must be allowed to start a worker. */
    const answering = [...batch];
    const base = { channelId, turnSeq: turn, ...key };
    // The inbound write belongs to the turn's error handling: when it fails for good (its retries are
    // bounded) the user is told and the conversation goes on. Histories recorded before wrote it first.
    const inboundInTurn = patched('channel-inbound-write-in-turn');
    if (batch.length && !inboundInTurn) await localStorage.recordInbound({ ...base, messages: batch });
    // Finished work enters the context as messages of their own, after the users' messages.
    const results = unreported();
    const recordResults = async () => {
      if (!results.length) return;
      await localStorage.recordContext({
        channelId,
        entries: results.map((p, i) => ({ turnSeq: turn, step: 0, idx: RESULTS_IDX + i, role: 'user', text: resultMessage(p) })),
      });
      for (const p of results) p.reported = true;
    };
    // A write that fails for good belongs to the turn's error handling too (the user is told, the
    // results stay unreported for a later turn). Histories recorded before wrote it outside: a
    // failure there failed the run, and their replay must fail it again.
    const resultsInTurn = results.length > 0 && patched('channel-results-write-in-turn');
    if (!resultsInTurn) await recordResults();

    const deliver = async (step: number, deliveryKey: string, text: string, kind: ReplyRecord['kind'], toolCallId?: string, toolCallIdx?: number) => {
      const input = { ...base, step, key: deliveryKey, text, kind, replyTo: trigger?.messageId, toolCallId, toolCallIdx };
      replies.push(await sendReply(initial.platform, input, `deliver ${kind}: ${preview(text)}`));
    };

    const llmLoop = async () => {
      let nudges = 0;
      // Per turn: the same tool with the same arguments is warned on its first repeat, then blocked.
      // reply and skip end the turn instead. Histories recorded before the guard replay without it.
      const guard = patched('channel-tool-loop-guard') ? new ToolLoopGuard({ exempt: ['reply', 'skip'] }) : undefined;
      for (let step = 1; step <= initial.maxLlmCallsPerTurn; step++) {
        const result: ModelStep = await llm.callModel.executeWithOptions({ summary: `LLM call ${step} of turn ${turn}` }, [
          // replyTo: a streamed reply's draft is posted as an answer to the trigger, as a delivered
          // reply is (deliver below); without it the draft, which the delivery only edits, answered nothing.
          // Only the activity's input changes, not the commands: recorded histories still replay.
          { ...base, step, process: 'channel', status: renderStatusBlock(processes), replyTo: trigger?.messageId },
        ]);
        await keepContextInBounds(result, turn);
        // Replay-safe: histories recorded before budgets have no notice, so no new command appears in them.
        if (result.notice) await deliver(step, 'notice', result.notice, 'reply');
        // Plain text is a reply unless the agent requires the reply tool; then bare text is nudged
        // (at most twice a turn) and only delivered if the model still will not use its tools.
        const textIsReply = !settings.requireReplyTool;
        if (textIsReply && result.text.trim()) await deliver(step, 'text', result.text, 'reply');
        if (result.toolCalls.length === 0) {
          if (textIsReply) break;
          const decision = decideNudge({ text: result.text, toolCallCount: 0, toolsExpected: true, nudgesThisTurn: nudges });
          if (decision.nudge && step < initial.maxLlmCallsPerTurn) {
            nudges++;
            await localStorage.recordContext({ channelId, entries: [{ turnSeq: turn, step, idx: 1, role: 'user', text: decision.message }] });
            continue;
          }
          if (result.text.trim()) await deliver(step, 'text', result.text, 'reply');
          break;
        }
        const handled: ContextEntryInput[] = [];
        await Promise.all(
          result.toolCalls.map(async (call, idx): Promise<unknown> => {
            const screened = guard?.screen(call, { turnSeq: turn, step, idx }) ?? { run: true };
            if (!screened.run) return handled.push(screened.blocked);
            if (screened.warning) handled.push(screened.warning);
            const replyText = replyTextOf(call);
            if (replyText !== undefined) return deliver(step, `tool:${call.id}`, replyText, 'reply', call.id, idx);
            const own = await processTool(call, turn, answering);
            if (own !== undefined) return handled.push({ turnSeq: turn, step, idx: 1 + idx, role: 'tool', toolCallId: call.id, text: own.content, isError: own.isError });
            return runTool(base, step, idx, call, trigger);
          }),
        );
        if (handled.length) await localStorage.recordContext({ channelId, entries: handled });
        if (endsTurn(result.toolCalls)) break;
        if (step === initial.maxLlmCallsPerTurn) {
          log.warn('turn reached its LLM call limit', { turn, limit: step });
          break;
        }
        // Steer mode: messages that arrived meanwhile join this turn before its next LLM call.
        if (queueMode() === 'steer' && queue.length) {
          const steered = queue.splice(0);
          for (const m of steered) messageTurn.set(m.messageId, turn);
          const toRecord = steered.filter((m) => !m.recorded);
          if (toRecord.length) await localStorage.recordInbound({ ...base, messages: toRecord, step, idxBase: STEERED_IDX });
          trigger = steered[steered.length - 1];
          answering.push(...steered);
        }
      }
    };

    try {
      if (resultsInTurn) await recordResults();
      // Messages a cut-off turn of a closed run recorded are in the transcript and context already.
      const toRecord = batch.filter((m) => !m.recorded);
      if (toRecord.length && inboundInTurn) await localStorage.recordInbound({ ...base, messages: toRecord });
      turnScope = new CancellationScope();
      await turnScope.run(llmLoop);
    } catch (err) {
      if (isCancellation(err)) log.info('turn interrupted by a newer message', { turn });
      else {
        const text = userMessageFor(err);
        // The platform itself may be what failed (a revoked token): the conversation goes on regardless.
        await deliver(0, 'error', text, 'error').catch((deliveryErr: unknown) =>
          log.error('could not deliver the error message', { turn, error: (deliveryErr as Error).message }),
        );
      }
    } finally {
      turnScope = undefined;
      runningTurn = undefined;
      completedTurnSeq = turn;
      turnsThisRun++;
      forgetOldTurns(turn);
    }
  };

  /**
   * branch, spawn_worker, route and cancel with well-formed arguments: carried out here, since they
   * start, signal or cancel child workflows. Undefined hands the call to the tool activity (which
   * explains malformed arguments to the model).
   */
  const processTool = async (call: ToolCall, turn: number, answering: InboundMessage[]): Promise<ToolOutcome | undefined> => {
    if (!PROCESS_TOOLS.has(call.name)) return undefined;
    // Denied by the agent's tool policy though called anyway: refused like any denied tool.
    const refused = await channelToolRefusal(key.agentId, call.name);
    if (refused !== undefined) return { content: refused, isError: true };
    const input = call.input;
    const taskType = typeof input.task_type === 'string' && /^[a-z0-9][a-z0-9_-]{0,39}$/.test(input.task_type) ? input.task_type : undefined;
    if (call.name === 'branch' && isText(input.question)) return spawn('branch', input.question, turn, { taskType });
    if (call.name === 'spawn_worker' && isText(input.task)) {
      // Who may start workers, and with what autonomy and tools (docs/security.md).
      const permit = await workerStartPermit(key, answering);
      if (permit && !permit.allowed) return { content: permit.reason, isError: true };
      const brief = typeof input.brief === 'string' ? input.brief : undefined;
      return spawn('worker', input.task, turn, { taskType, brief, interactive: input.interactive === true, toolPolicy: permit?.policy });
    }
    if (call.name === 'route' && typeof input.to === 'string' && isText(input.message)) {
      const p = findByRef(input.to);
      if (!p || p.kind !== 'worker' || !p.interactive || !isActive(p)) return { content: `${input.to} is not an interactive worker that is running.`, isError: true };
      // A follow-up puts the worker's tools to work: whoever may not start a worker may not steer one.
      const permit = await workerRoutePermit(key, answering);
      if (permit && !permit.allowed) return { content: permit.reason.replace(/^Not started: /, 'Not sent: '), isError: true };
      try {
        await getExternalWorkflowHandle(p.id).signal(followUpSignal, { text: input.message });
      } catch (err) {
        // Its run has closed (terminated, timed out, reset away) without telling us: the model hears it
        // as a tool error and the record stops holding a slot. Histories recorded before failed the run here.
        if (!patched('channel-route-closed-worker')) throw err;
        log.warn('route: the worker could not be signalled', { id: p.id, error: (err as Error).message });
        markGone(p);
        return { content: `${input.to} has finished: its run is closed, so it cannot take follow-ups. Start a new worker if the work must go on.`, isError: true };
      }
      p.state = 'running';
      return { content: `Sent to ${input.to}.`, isError: false };
    }
    if (call.name === 'cancel' && typeof input.id === 'string') {
      const p = findByRef(input.id);
      if (!p) return { content: `There is no ${input.id}.`, isError: true };
      // The model asked for it: no need to tell it again in a results turn.
      const cancelled = await cancelProcess(p.id, true);
      return cancelled ? { content: `Cancelling ${input.id}.`, isError: false } : { content: `${input.id} is not running (${p.state}).`, isError: true };
    }
    return undefined;
  };

  /**
   * The compactor: past 80 % (85 %) of the model's window the oldest 30 % (50 %) of completed turns
   * are summarised by a child workflow while the channel keeps answering; past 95 % the oldest half
   * is dropped at once (archived, with a marker), without an LLM call.
   */
  const keepContextInBounds = async (step: ModelStep, turn: number): Promise<void> => {
    if (!step.contextTokens || !step.contextWindow) return;
    const action = compactionAction(step.contextTokens, step.contextWindow);
    const throughTurn = turn - 1;
    if (action.kind === 'none' || throughTurn < 1) return;
    if (action.kind === 'truncate') {
      log.warn('context nearly full: truncating without a summary', { usage: action.usage, throughTurn });
      await localStorage.truncateContext({ agentId: key.agentId, channelId, fraction: action.fraction, throughTurn });
      return;
    }
    if (compacting || compactorRefusedTurn === turn) return;
    compacting = true;
    const input = { agentId: key.agentId, channelId, fraction: action.fraction, throughTurn, usedTokens: step.contextTokens, contextWindow: step.contextWindow };
    let handle: Awaited<ReturnType<typeof startCompactor>>;
    try {
      handle = await outsideTurn(() => startCompactor(key, turn, input));
    } catch (err) {
      // Its id is held (a compactor of this turn number still runs after a Reset): the turn goes on
      // without compaction and tries again next turn. Histories recorded before failed the run here.
      compacting = false;
      if (!patched('channel-compactor-start-failure')) throw err;
      log.warn('the compactor could not be started', { turn, error: (err as Error).message });
      compactorRefusedTurn = turn;
      return;
    }
    handle
      .result()
      .catch((err: unknown) => log.warn('compaction failed', { error: (err as Error).message }))
      .finally(() => {
        compacting = false;
      });
  };

  const findByRef = (r: string) => processes.find((p) => ref(p) === r);

  /**
   * Children are started outside the turn's cancellation: an interrupted turn must not cancel the
   * branches, workers and compactor it started (a scope cancel reaches them whatever their parent
   * close policy). Histories recorded before started them inside it.
   */
  const outsideTurn = <T>(start: () => Promise<T>): Promise<T> =>
    patched('channel-children-outlive-turn') ? CancellationScope.nonCancellable(start) : start();

  const spawn = async (
    kind: ProcessKind,
    task: string,
    turn: number,
    opts: { taskType?: string; brief?: string; interactive?: boolean; toolPolicy?: WorkerToolPolicy },
  ): Promise<ToolOutcome> => {
    const limit = kind === 'branch' ? settings.maxBranches : settings.maxWorkers;
    const running = processes.filter((p) => p.kind === kind && isActive(p)).length;
    if (running >= limit) {
      const plural = kind === 'branch' ? 'branches' : 'workers';
      return { content: `Not started: ${running} ${plural} are already running (the limit is ${limit}). Wait for one to finish or cancel one.`, isError: true };
    }
    const n = ++processSeq;
    const record: ProcessRecord = { id: childId(channelId, kind, n), kind, n, task, startedAt: new Date().toISOString(), state: 'running', toolCalls: 0, interactive: opts.interactive, reported: true };
    // Parallel calls of one model step: the slot is taken before the start is awaited, so the next
    // call's check counts it. Histories recorded before took it after the start.
    const reserved = patched('channel-spawn-reserves-slot');
    if (reserved) processes.push(record);
    const startAs = (m: number): Promise<unknown> => {
      const common = { ...key, parentId: channelId, id: childId(channelId, kind, m), n: m, taskType: opts.taskType };
      if (kind === 'branch') return startBranch(key, { ...common, question: task, forkTurn: turn, maxLlmCalls: settings.branchMaxLlmCalls });
      return startWorker(key, {
        ...common,
        task,
        brief: opts.brief,
        interactive: opts.interactive ?? false,
        maxLlmCalls: settings.workerMaxLlmCalls,
        timeLimitMs: settings.workerTimeLimitMs,
        toolsTaskQueue: settings.toolsTaskQueue,
        ...(opts.toolPolicy ? { toolPolicy: opts.toolPolicy } : {}),
      });
    };
    let start;
    if (patched('channel-child-id-taken')) {
      // An id still held by a running workflow (after a Reset) takes the next number; any other failure is the model's to hear.
      start = await startWithFreeId(n, () => ++processSeq, (m) => outsideTurn(() => startAs(m)));
    } else {
      // Histories recorded before: a failed start failed the run.
      await outsideTurn(() => startAs(n));
      start = { started: true as const, n };
    }
    if (!start.started) {
      if (reserved) processes.splice(processes.indexOf(record), 1);
      return { content: `Not started: ${start.reason}. Try again later.`, isError: true };
    }
    Object.assign(record, { id: childId(channelId, kind, start.n), n: start.n });
    if (!reserved) processes.push(record);
    const what = kind === 'branch' ? 'Its conclusion' : 'Its outcome';
    return { content: `Started ${kind}/${start.n}. ${what} will arrive here as a message; progress shows in the status block.`, isError: false };
  };

  /** A process whose run closed without reporting to the channel: it no longer holds a slot. */
  const markGone = (p: ProcessRecord) => {
    p.state = 'failed';
    p.result ??= 'Its run closed without reporting an outcome.';
    p.finishedAt ??= new Date().toISOString();
    // Whoever hit it (a tool call, the cancel API) hears it there: no results turn for it.
    p.reported = true;
  };

  const forgetOldTurns = (turn: number) => {
    turnReplies.delete(turn - REPLY_MEMORY_TURNS);
    for (const [id, t] of messageTurn) if (t <= turn - REPLY_MEMORY_TURNS) messageTurn.delete(id);
    // Reported, finished processes beyond the newest few leave the list (they are in the context).
    const done = processes.filter((p) => p.reported && !isActive(p));
    for (const p of done.slice(0, Math.max(0, done.length - FINISHED_KEPT))) processes.splice(processes.indexOf(p), 1);
  };

  /** Multi-user bursts: hold the turn until the chat is quiet for the debounce window, or the burst is too long. */
  const debounce = async () => {
    while (burstSince !== undefined && lastArrival !== undefined) {
      const until = Math.min(lastArrival + settings.debounceMs, burstSince + settings.debounceMaxMs);
      const wait = until - Date.now();
      if (wait <= 0) break;
      const seenArrival = lastArrival;
      await condition(() => lastArrival !== seenArrival, wait);
    }
    burstSince = undefined;
  };

  /**
   * Takes over a closed run's state: turns go on after its last one, the ids it answered stay
   * duplicates, its unanswered messages are queued first, its running children are tracked again,
   * and its replies that never reached the platform are delivered (by their keys, so once).
   */
  const takeOver = (recovered: RecoveredChannel) => {
    turnSeq = recovered.turnSeq;
    completedTurnSeq = recovered.turnSeq;
    for (const id of recovered.seen) seen.add(id);
    for (const m of recovered.pending) {
      seen.add(m.messageId);
      queue.push(m);
      recoveredUnclaimed.add(m.messageId);
    }
    processes.push(...recovered.processes.filter((p) => !processes.some((q) => q.id === p.id)));
    processSeq = Math.max(processSeq, recovered.processSeq);
    // In the background: a platform outage must not hold up the conversation (each is bounded and logged).
    for (const input of recovered.undelivered) void redeliver(input);
  };

  const redeliver = (input: DeliverReplyInput) =>
    sendReply(initial.platform, input, `deliver again: ${preview(input.text)}`).catch((err: unknown) => log.warn('could not deliver a reply of an earlier run', { turn: input.turnSeq, key: input.key, error: (err as Error).message }));

  if (recovering) {
    const recovered = await recoverChannel({ channelId, ...key, seenLimit: SEEN_LIMIT, maxPending: maxPendingOf(settings) });
    if (recovered) takeOver(recovered);
    recovering = false;
    for (const apply of heldSignals.splice(0)) apply();
  }

  for (;;) {
    await condition(() => queue.length > 0 || resultTurnDue() || shouldContinueAsNew());
    if (shouldContinueAsNew()) break;
    if (queue.length > 0) {
      const burst = burstSince !== undefined;
      if (burst) await debounce();
      // followup: one turn per message, in arrival order; a burst, and the other modes, answer everything queued at once.
      const batch = queueMode() === 'followup' && !burst ? queue.splice(0, 1) : queue.splice(0);
      resultTurnsSinceUser = 0;
      await runTurn(batch);
    } else {
      // Results landing close together are answered in one turn.
      await sleep(settings.resultCoalesceMs);
      if (queue.length > 0) continue;
      resultTurnsSinceUser++;
      await runTurn([]);
    }
  }

  // Let in-flight updates finish (waiters of queued messages get 'continued' and ask the next run),
  // then carry only the ids, counters, children and unanswered messages into a fresh history.
  draining = true;
  await condition(allHandlersFinished);
  // Channels started by an older client got the whole first submission (its text too) as their
  // input: only the state's own fields go on, so the input stays bounded (inbound-validation.ts).
  const { message: _firstSubmission, waitMs: _firstWait, ...carried } = initial as ChannelState & { message?: unknown; waitMs?: unknown };
  // Bounded so the input always fits Temporal's payload limit (carried-processes.ts).
  const next = carriedProcesses(processes);
  if (next.dropped.length) log.warn('finished processes left out of continue-as-new: their outcomes did not fit', { ids: next.dropped });
  await continueAsNew<typeof channelWorkflow>({
    ...carried,
    turnSeq,
    seen: seen.toArray(),
    pending: queue,
    settings,
    queueModeOverride,
    processes: next.carried,
    processSeq,
  });
}

/** One reply to the conversation: the webhook platform's delivery is a database write (local); a chat platform's, a regular activity. */
function sendReply(platform: string, input: DeliverReplyInput, summary: string): Promise<ReplyRecord> {
  return platform === WEBHOOK_PLATFORM ? localStorage.deliverReply(input) : platformDelivery.deliverReply.executeWithOptions({ summary }, [input]);
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0 && value.length <= 8000;
}

function runTool(
  base: { channelId: string; turnSeq: number; agentId: string; platform: string; conversationId: string },
  step: number,
  idx: number,
  call: ToolCall,
  trigger: InboundMessage | undefined,
): Promise<ToolOutcome> {
  return tools.runTool.executeWithOptions({ summary: `tool ${call.name}` }, [
    { ...base, step, idx, call, process: 'channel', triggerMessageId: trigger?.messageId, userId: trigger?.sender?.id },
  ]);
}

function validateQueueMode(mode: QueueMode | null): void {
  if (mode !== null && !QUEUE_MODES.includes(mode)) throw new Error(`queueMode must be one of ${QUEUE_MODES.join(', ')} (or null)`);
}

function preview(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

/**
 * What the user reads when a turn cannot be answered. Other failures than an activity's (a child or
 * signal the workflow could not handle, a bug) are told too and the conversation goes on; only a
 * determinism violation fails the task, so a fixed deploy can replay it. Histories recorded before
 * failed the run on them.
 */
function userMessageFor(err: unknown): string {
  if (!(err instanceof ActivityFailure)) {
    if (err instanceof DeterminismViolationError || !patched('channel-turn-failure-answered')) throw err;
    log.error('a turn failed', { error: err instanceof Error ? err.message : String(err) });
    return 'Sorry, something went wrong while answering. Please try again.';
  }
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.type?.startsWith(LLM_FAILURE_TYPE_PREFIX)) {
    const detail = cause.details?.[0];
    return typeof detail === 'string' ? detail : cause.message;
  }
  if (cause instanceof TimeoutFailure) {
    return "Sorry, I can't answer right now: the language model did not respond in time after repeated tries. Please try again later.";
  }
  return `Sorry, something went wrong while answering (${cause?.message ?? err.message}).`;
}
