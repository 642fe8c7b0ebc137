import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload, type PayloadConverter } from '@temporalio/common';

/**
 * Turns a workflow run's event history into a readable list of steps: messages received, turns,
 * LLM calls, tool calls, deliveries, errors and continue-as-new. Works on the SDK's proto objects
 * (`handle.fetchHistory()`) and also on the JSON form the temporal CLI and Web UI export, without
 * protobufjs decoding: only the fields it reads are normalised.
 */

export type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

export interface StepError {
  message: string;
  type?: string;
  nonRetryable?: boolean;
}

export interface TimelineStep {
  kind:
    | 'run_started'
    | 'message'
    | 'update'
    | 'signal'
    | 'turn'
    | 'llm_call'
    | 'tool_call'
    | 'delivery'
    | 'activity'
    | 'local_activity'
    | 'recovery'
    | 'error'
    | 'continued_as_new'
    | 'run_closed';
  /** When the step began (ISO). */
  time: string;
  /** When it ended, for activities (for local activities, `completedAt` is the worker's clock). */
  endTime?: string;
  durationMs?: number;
  /** The history event that began the step. */
  eventId: number;
  turn?: number;
  /** The LLM call of the turn a step belongs to (1-based). */
  step?: number;
  summary?: string;
  attempts?: number;
  /** scheduled (still running), completed, failed, timed_out, canceled. */
  outcome?: string;
  error?: StepError;
  [detail: string]: unknown;
}

interface RunState {
  turn: number;
  seen: Set<string>;
  /** Accepted message ids not yet taken by a turn, in arrival order. */
  queue: string[];
}

export function buildTimeline(history: History | unknown, converter: PayloadConverter = defaultPayloadConverter): TimelineStep[] {
  const events = ((history as { events?: HistoryEvent[] } | null)?.events ?? []) as HistoryEvent[];
  const decode = (payload: unknown): unknown => decodePayload(converter, payload);
  const first = (payloads: unknown): unknown => decode((payloads as { payloads?: unknown[] } | null | undefined)?.payloads?.[0]);
  const steps: TimelineStep[] = [];
  const byScheduledId = new Map<number, TimelineStep>();
  const state: RunState = { turn: 0, seen: new Set(), queue: [] };

  for (const event of events) {
    const eventId = toNumber(event.eventId) ?? 0;
    const time = toIso(event.eventTime) ?? '';
    const summary = asString(decode(event.userMetadata?.summary));
    const base = { time, eventId };

    if (event.workflowExecutionStartedEventAttributes) {
      const a = event.workflowExecutionStartedEventAttributes;
      const initial = first(a.input) as { turnSeq?: unknown; seen?: unknown; pending?: unknown } | undefined;
      if (typeof initial?.turnSeq === 'number') state.turn = initial.turnSeq;
      if (Array.isArray(initial?.seen)) for (const id of initial.seen) if (typeof id === 'string') state.seen.add(id);
      if (Array.isArray(initial?.pending)) for (const m of initial.pending as { messageId?: unknown }[]) if (typeof m?.messageId === 'string') state.queue.push(m.messageId);
      steps.push({
        kind: 'run_started',
        ...base,
        workflowType: a.workflowType?.name ?? undefined,
        summary,
        continuedFromRunId: a.continuedExecutionRunId || undefined,
        turnsBefore: state.turn,
        pendingMessages: state.queue.length || undefined,
      });
    } else if (event.workflowExecutionUpdateAcceptedEventAttributes) {
      const request = event.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest;
      const name = request?.input?.name ?? '';
      const arg = first(request?.input?.args) as { message?: { messageId?: unknown; text?: unknown; sender?: unknown }; wait?: unknown } | undefined;
      const updateId = request?.meta?.updateId ?? undefined;
      if (name === 'submitMessage' && typeof arg?.message?.messageId === 'string') {
        const id = arg.message.messageId;
        const duplicate = state.seen.has(id);
        if (!duplicate) {
          state.seen.add(id);
          state.queue.push(id);
        }
        steps.push({ kind: 'message', ...base, updateId, messageId: id, text: arg.message.text, sender: arg.message.sender, wait: arg.wait, duplicate });
      } else {
        steps.push({ kind: 'update', ...base, name, updateId, input: arg });
      }
    } else if (event.workflowExecutionSignaledEventAttributes) {
      steps.push({ kind: 'signal', ...base, name: event.workflowExecutionSignaledEventAttributes.signalName ?? undefined });
    } else if (event.markerRecordedEventAttributes) {
      // A patch marker records which version of the workflow code ran (patched()): not a step of the agent.
      if (event.markerRecordedEventAttributes.markerName === 'core_patch') continue;
      const step = localActivityStep(event.markerRecordedEventAttributes, base, state, first);
      if (step) steps.push(step);
    } else if (event.activityTaskScheduledEventAttributes) {
      const a = event.activityTaskScheduledEventAttributes;
      const step = scheduledActivityStep(a.activityType?.name ?? '', first(a.input), base, summary, state);
      byScheduledId.set(eventId, step);
      steps.push(step);
    } else if (event.activityTaskStartedEventAttributes) {
      const a = event.activityTaskStartedEventAttributes;
      const step = byScheduledId.get(toNumber(a.scheduledEventId) ?? -1);
      if (step) step.attempts = a.attempt ?? step.attempts;
    } else if (event.activityTaskCompletedEventAttributes) {
      const a = event.activityTaskCompletedEventAttributes;
      const step = byScheduledId.get(toNumber(a.scheduledEventId) ?? -1);
      if (step) {
        close(step, time, 'completed');
        addActivityResult(step, first(a.result));
      }
    } else if (event.activityTaskFailedEventAttributes) {
      const a = event.activityTaskFailedEventAttributes;
      const step = byScheduledId.get(toNumber(a.scheduledEventId) ?? -1);
      if (step) {
        close(step, time, 'failed');
        step.error = failureOf(a.failure);
      }
    } else if (event.activityTaskTimedOutEventAttributes) {
      const a = event.activityTaskTimedOutEventAttributes;
      const step = byScheduledId.get(toNumber(a.scheduledEventId) ?? -1);
      if (step) {
        close(step, time, 'timed_out');
        step.error = failureOf(a.failure);
      }
    } else if (event.activityTaskCanceledEventAttributes) {
      const step = byScheduledId.get(toNumber(event.activityTaskCanceledEventAttributes.scheduledEventId) ?? -1);
      if (step) close(step, time, 'canceled');
    } else if (event.workflowTaskFailedEventAttributes) {
      const a = event.workflowTaskFailedEventAttributes;
      steps.push({ kind: 'error', ...base, source: 'workflow_task', cause: enumName(a.cause, 'WORKFLOW_TASK_FAILED_CAUSE_'), error: failureOf(a.failure) });
    } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
      steps.push({ kind: 'continued_as_new', ...base, newRunId: event.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId ?? undefined });
    } else if (event.workflowExecutionCompletedEventAttributes) {
      steps.push({ kind: 'run_closed', ...base, status: 'completed' });
    } else if (event.workflowExecutionFailedEventAttributes) {
      const error = failureOf(event.workflowExecutionFailedEventAttributes.failure);
      steps.push({ kind: 'error', ...base, source: 'workflow', error });
      steps.push({ kind: 'run_closed', ...base, status: 'failed', error });
    } else if (event.workflowExecutionTerminatedEventAttributes) {
      steps.push({ kind: 'run_closed', ...base, status: 'terminated', reason: event.workflowExecutionTerminatedEventAttributes.reason || undefined });
    } else if (event.workflowExecutionTimedOutEventAttributes) {
      steps.push({ kind: 'run_closed', ...base, status: 'timed_out' });
    } else if (event.workflowExecutionCanceledEventAttributes) {
      steps.push({ kind: 'run_closed', ...base, status: 'canceled' });
    }
  }
  return steps.map(dropUndefined);
}

function scheduledActivityStep(type: string, input: unknown, base: { time: string; eventId: number }, summary: string | undefined, state: RunState): TimelineStep {
  const i = (input ?? {}) as Record<string, unknown>;
  const turn = typeof i.turnSeq === 'number' ? i.turnSeq : undefined;
  if (turn !== undefined) state.turn = Math.max(state.turn, turn);
  const common = { ...base, turn, step: typeof i.step === 'number' ? i.step : undefined, summary, attempts: 1, outcome: 'scheduled', activityType: type };
  if (type === 'callModel') return { kind: 'llm_call', ...common };
  if (type === 'runTool') {
    const call = (i.call ?? {}) as { id?: unknown; name?: unknown; input?: unknown };
    return { kind: 'tool_call', ...common, tool: call.name, callId: call.id, arguments: call.input };
  }
  if (type === 'deliverReply') return { kind: 'delivery', ...common, text: i.text, replyKind: i.kind, key: i.key };
  return { kind: 'activity', ...common, input };
}

function addActivityResult(step: TimelineStep, result: unknown): void {
  const r = (result ?? {}) as Record<string, unknown>;
  if (step.kind === 'llm_call') {
    step.text = r.text;
    step.toolCalls = Array.isArray(r.toolCalls)
      ? (r.toolCalls as { id?: unknown; name?: unknown; input?: unknown }[]).map((c) => ({ id: c.id, name: c.name, arguments: c.input }))
      : undefined;
    step.stopReason = r.stopReason;
    // Shown when the activity's result carries them: the answering model (`provider/model`), the
    // models tried (`attempts` in the result; `modelAttempts` here, as `attempts` counts activity
    // tries), and tokens from a `usage` object or the answering model's attempt.
    step.model = r.model;
    const tried = Array.isArray(r.attempts) ? (r.attempts as Record<string, unknown>[]) : undefined;
    step.modelAttempts = tried;
    const answered = tried?.find((a) => a.outcome === 'ok' && (r.model === undefined || a.model === r.model));
    step.usage = r.usage ?? (answered && (answered.inputTokens !== undefined || answered.outputTokens !== undefined)
      ? { inputTokens: answered.inputTokens, outputTokens: answered.outputTokens }
      : undefined);
  } else if (step.kind === 'tool_call') {
    step.result = { content: r.content, isError: r.isError };
  } else if (step.kind === 'delivery') {
    step.replyMessageId = r.messageId;
  } else {
    step.result = result;
  }
}

type Decode = (payload: unknown) => unknown;

function localActivityStep(
  marker: NonNullable<HistoryEvent['markerRecordedEventAttributes']>,
  base: { time: string; eventId: number },
  state: RunState,
  first: Decode,
): TimelineStep | undefined {
  if (marker.markerName !== 'core_local_activity') return { kind: 'local_activity', ...base, marker: marker.markerName ?? undefined };
  const details = (marker.details ?? {}) as Record<string, unknown>;
  const data = (first(details.data) ?? {}) as { activity_type?: unknown; attempt?: unknown; complete_time?: unknown; original_schedule_time?: unknown };
  const result = first(details.result);
  const failed = Boolean(marker.failure);
  const common = {
    ...base,
    completedAt: toIso(data.complete_time),
    attempts: typeof data.attempt === 'number' ? data.attempt : undefined,
    outcome: failed ? 'failed' : 'completed',
    error: failed ? failureOf(marker.failure) : undefined,
    activityType: data.activity_type,
    local: true,
  };
  if (data.activity_type === 'recordInbound') {
    state.turn += 1;
    // Follow-up mode: a turn takes the oldest accepted message that has not had its turn.
    return { kind: 'turn', ...common, turn: state.turn, messageIds: state.queue.splice(0, 1) };
  }
  if (data.activity_type === 'deliverReply') {
    const r = (result ?? {}) as { messageId?: unknown; text?: unknown; kind?: unknown };
    return { kind: 'delivery', ...common, turn: state.turn || undefined, text: r.text, replyKind: r.kind, replyMessageId: r.messageId };
  }
  if (data.activity_type === 'recoverChannel' && !failed) return recoveryStep(result, common, state);
  return { kind: 'local_activity', ...common, turn: state.turn || undefined, result };
}

/**
 * A run taking over from a closed one (docs/runs.md, "Recovery of a closed run"): its turns go on
 * after the recovered one, and the messages it brought back are the first its turns take. A new
 * conversation's check, which found nothing, is not a step of the agent.
 */
function recoveryStep(result: unknown, common: Omit<TimelineStep, 'kind'> & { time: string; eventId: number }, state: RunState): TimelineStep | undefined {
  const r = (result ?? {}) as { turnSeq?: unknown; seen?: unknown; pending?: unknown; processes?: unknown; undelivered?: unknown };
  const count = (list: unknown) => (Array.isArray(list) ? list.length : 0);
  const turn = typeof r.turnSeq === 'number' ? r.turnSeq : 0;
  const pending = Array.isArray(r.pending) ? r.pending.map((m) => String((m as { messageId?: unknown }).messageId)) : [];
  // The run's own first message is stored at intake before the run starts, so recovery finds it
  // too: it is already in this run's queue, not something brought back.
  const broughtBack = pending.filter((id) => !state.seen.has(id));
  if (turn === 0 && count(r.seen) + broughtBack.length + count(r.processes) + count(r.undelivered) === 0) return undefined;
  state.turn = turn;
  state.queue.unshift(...broughtBack);
  for (const id of [...(Array.isArray(r.seen) ? r.seen : []), ...broughtBack]) state.seen.add(String(id));
  return {
    kind: 'recovery',
    ...common,
    turn: turn || undefined,
    recoveredMessages: broughtBack,
    runningProcesses: count(r.processes),
    undeliveredReplies: count(r.undelivered),
  };
}

function close(step: TimelineStep, time: string, outcome: string): void {
  step.outcome = outcome;
  step.endTime = time;
  const ms = Date.parse(time) - Date.parse(step.time);
  if (Number.isFinite(ms)) step.durationMs = ms;
}

interface FailureLike {
  message?: string | null;
  applicationFailureInfo?: { type?: string | null; nonRetryable?: boolean | null } | null;
  timeoutFailureInfo?: { timeoutType?: unknown } | null;
  cause?: FailureLike | null;
}

function failureOf(failure: unknown): StepError | undefined {
  const f = failure as FailureLike | null | undefined;
  if (!f) return undefined;
  // Timeouts and activity failures wrap the useful part in `cause`.
  const inner = f.cause && !f.applicationFailureInfo ? f.cause : f;
  const message = [f.message, inner !== f ? inner.message : undefined].filter(Boolean).join(': ') || 'failed';
  return dropUndefined({
    message,
    type: inner.applicationFailureInfo?.type || (inner.timeoutFailureInfo ? `timeout:${enumName(inner.timeoutFailureInfo.timeoutType, 'TIMEOUT_TYPE_') ?? ''}` : undefined),
    nonRetryable: inner.applicationFailureInfo?.nonRetryable || undefined,
  });
}

/** Decodes one payload (proto object or its JSON form, base64 strings) with the converter; undefined if it cannot. */
export function decodePayload(converter: PayloadConverter, payload: unknown): unknown {
  if (!payload || typeof payload !== 'object') return undefined;
  const p = payload as { metadata?: Record<string, unknown> | null; data?: unknown };
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) {
    const bytes = toBytes(v);
    if (bytes) metadata[k] = bytes;
  }
  const normal: Payload = { metadata, data: toBytes(p.data) ?? new Uint8Array() };
  try {
    return converter.fromPayload(normal);
  } catch {
    return undefined;
  }
}

function toBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Buffer.from(v, 'base64');
  return undefined;
}

/** Numbers, decimal strings (JSON int64) and protobufjs Longs. */
function toNumber(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (typeof v === 'object' && typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

/** A proto Timestamp ({ seconds, nanos }, seconds maybe a Long) or an RFC 3339 string → ISO. */
function toIso(ts: unknown): string | undefined {
  if (!ts) return undefined;
  if (typeof ts === 'string') {
    const ms = Date.parse(ts);
    return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
  }
  const t = ts as { seconds?: unknown; nanos?: unknown };
  const seconds = toNumber(t.seconds) ?? 0;
  const nanos = toNumber(t.nanos) ?? 0;
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString();
}

function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Proto enums arrive as numbers (SDK objects) or names (JSON); keep names readable, numbers as they are. */
function enumName(v: unknown, prefix: string): string | number | undefined {
  if (typeof v === 'string') return v.startsWith(prefix) ? v.slice(prefix.length).toLowerCase() : v;
  return typeof v === 'number' ? v : undefined;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
