import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Kysely } from 'kysely';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import { listRuns, type RunSummary, type UiLinkOptions } from '../runs/list.js';
import { AGENT, CONVERSATION, PLATFORM, PROCESS } from '../temporal/search-attributes.js';
import {
  HEARTBEAT_PLATFORM,
  heartbeatScheduleId,
  type HeartbeatDefinition,
  type HeartbeatOverlap,
  type HeartbeatWorkflowInput,
} from '../../workflows/heartbeat-contract.js';
import type { heartbeatWorkflow } from '../../workflows/heartbeat.js';
import { failureCounts, resetFailures } from './store.js';
import { webhookTargetProblem } from './validation.js';

/**
 * Heartbeats are Temporal Schedules and nothing else: the definition travels in the schedule's
 * action arguments (updatable), where it came from in its memo (`source`), the circuit breaker's count
 * in Postgres. Nothing is held in process memory, so any API or worker process can manage any
 * heartbeat, and a restart loses nothing.
 */

export const HEARTBEAT_PROCESS = 'heartbeat';

/** Grace after a heartbeat's own timeout before Temporal ends the run regardless. */
const TIMEOUT_BACKSTOP_SECONDS = 60;

const OVERLAP: Record<HeartbeatOverlap, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  buffer_one: ScheduleOverlapPolicy.BUFFER_ONE,
  buffer_all: ScheduleOverlapPolicy.BUFFER_ALL,
  cancel_other: ScheduleOverlapPolicy.CANCEL_OTHER,
  terminate_other: ScheduleOverlapPolicy.TERMINATE_OTHER,
  allow_all: ScheduleOverlapPolicy.ALLOW_ALL,
};

/** A heartbeat as the API and the `cron` tool show it. */
export interface HeartbeatView extends HeartbeatDefinition {
  scheduleId: string;
  paused: boolean;
  note?: string;
  remainingActions?: number;
  consecutiveFailures: number;
  lastError?: string;
  nextRunTimes: string[];
  recentRuns: { scheduledAt: string; workflowId: string; runId: string }[];
}

export class HeartbeatError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict' | 'limit' | 'invalid',
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export class HeartbeatService {
  constructor(
    private readonly client: Client,
    private readonly config: SpacebotConfig,
    private readonly db: Kysely<Database>,
  ) {}

  maxLlmCalls(agentId: string): number {
    return this.config.agents.find((a) => a.id === agentId)?.maxLlmCallsPerTurn ?? 5;
  }

  /** Schedule options for a definition (also used, minus id and memo, for updates). */
  scheduleOptions(def: HeartbeatDefinition, paused = false): ScheduleOptions {
    // Every way in (API, config, tool) creates or updates through here: forbidden webhook hosts stop here.
    const targetProblem = webhookTargetProblem(def.target, this.config.network);
    if (targetProblem) throw new HeartbeatError('invalid', targetProblem, 'target.url');
    const scheduleId = heartbeatScheduleId(def.agentId, def.id);
    const input: HeartbeatWorkflowInput = { definition: def, maxLlmCallsPerTurn: this.maxLlmCalls(def.agentId) };
    return {
      scheduleId,
      spec: {
        ...(def.cron !== undefined ? { cronExpressions: [def.cron] } : { intervals: [{ every: `${def.intervalSeconds ?? 3600}s` }] }),
        timezone: def.timezone,
        ...(def.jitterSeconds ? { jitter: `${def.jitterSeconds}s` } : {}),
      },
      action: {
        type: 'startWorkflow',
        workflowType: 'heartbeatWorkflow' satisfies (typeof heartbeatWorkflow)['name'],
        workflowId: scheduleId,
        taskQueue: this.config.temporal.taskQueue,
        args: [input],
        // A backstop: the workflow enforces timeoutSeconds itself and counts an overrun as a failure.
        workflowExecutionTimeout: `${def.timeoutSeconds + TIMEOUT_BACKSTOP_SECONDS}s`,
        workflowRunTimeout: `${def.timeoutSeconds + TIMEOUT_BACKSTOP_SECONDS}s`,
        memo: { agent: def.agentId, heartbeat: def.id, process: HEARTBEAT_PROCESS, platform: HEARTBEAT_PLATFORM, conversation: def.id },
        typedSearchAttributes: new TypedSearchAttributes([
          { key: AGENT, value: def.agentId },
          { key: PROCESS, value: HEARTBEAT_PROCESS },
          { key: PLATFORM, value: HEARTBEAT_PLATFORM },
          { key: CONVERSATION, value: def.id },
        ]),
        staticSummary: `Heartbeat ${def.id} of agent ${def.agentId}`,
      },
      policies: { overlap: OVERLAP[def.overlap], catchupWindow: '1 minute' },
      memo: { agent: def.agentId, heartbeat: def.id, process: HEARTBEAT_PROCESS, source: def.source },
      typedSearchAttributes: new TypedSearchAttributes([
        { key: AGENT, value: def.agentId },
        { key: PROCESS, value: HEARTBEAT_PROCESS },
      ]),
      state: {
        paused,
        ...(paused ? { note: 'created paused' } : {}),
        ...(def.runOnce ? { remainingActions: 1 } : {}),
      },
    };
  }

  async create(def: HeartbeatDefinition, options: { paused?: boolean; enforceLimit?: boolean } = {}): Promise<HeartbeatView> {
    if (options.enforceLimit !== false) {
      const existing = await this.listIds(def.agentId);
      const max = this.config.heartbeats.maxPerAgent;
      if (existing.length >= max && !existing.includes(def.id)) {
        throw new HeartbeatError('limit', `agent "${def.agentId}" already has ${existing.length} heartbeats (at most ${max})`, 'id');
      }
    }
    try {
      await this.client.schedule.create(this.scheduleOptions(def, options.paused ?? false));
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new HeartbeatError('conflict', `heartbeat "${def.id}" already exists`, 'id');
      throw asInvalid(err);
    }
    return this.get(def.agentId, def.id);
  }

  /** Replaces spec, action and policies; keeps the paused state and note unless `paused` says otherwise. */
  async update(def: HeartbeatDefinition, paused?: boolean): Promise<HeartbeatView> {
    const options = this.scheduleOptions(def);
    try {
      await this.client.schedule.getHandle(options.scheduleId).update((prev): ScheduleUpdateOptions => ({
        spec: options.spec,
        action: options.action,
        policies: options.policies,
        typedSearchAttributes: options.typedSearchAttributes,
        state: {
          paused: paused ?? prev.state.paused,
          note: paused === undefined ? prev.state.note : paused ? 'paused through the API' : 'unpaused through the API',
          ...(def.runOnce ? { remainingActions: prev.state.remainingActions ?? 1 } : {}),
        },
      }));
    } catch (err) {
      throw notFoundOr(err, def.id);
    }
    if (paused === false) await resetFailures(this.db, options.scheduleId);
    return this.get(def.agentId, def.id);
  }

  async describe(agentId: string, id: string): Promise<ScheduleDescription> {
    try {
      return await this.client.schedule.getHandle(heartbeatScheduleId(agentId, id)).describe();
    } catch (err) {
      throw notFoundOr(err, id);
    }
  }

  async definition(agentId: string, id: string): Promise<HeartbeatDefinition> {
    return definitionOf(await this.describe(agentId, id));
  }

  async get(agentId: string, id: string): Promise<HeartbeatView> {
    const description = await this.describe(agentId, id);
    const counts = await failureCounts(this.db, [description.scheduleId]);
    return viewOf(description, counts.get(description.scheduleId));
  }

  /** Ids of the agent's heartbeats (schedule listing is eventually consistent: a just-created one may lag). */
  async listIds(agentId: string): Promise<string[]> {
    const prefix = heartbeatScheduleId(agentId, '');
    const ids: string[] = [];
    for await (const s of this.client.schedule.list()) if (s.scheduleId.startsWith(prefix)) ids.push(s.scheduleId.slice(prefix.length));
    return ids.sort();
  }

  async list(agentId: string): Promise<HeartbeatView[]> {
    const views: HeartbeatView[] = [];
    for (const id of await this.listIds(agentId)) {
      try {
        views.push(await this.get(agentId, id));
      } catch (err) {
        if (!(err instanceof HeartbeatError)) throw err; // deleted since the listing
      }
    }
    return views;
  }

  async delete(agentId: string, id: string): Promise<void> {
    const scheduleId = heartbeatScheduleId(agentId, id);
    try {
      await this.client.schedule.getHandle(scheduleId).delete();
    } catch (err) {
      throw notFoundOr(err, id);
    }
    await resetFailures(this.db, scheduleId);
  }

  async pause(agentId: string, id: string, note?: string): Promise<HeartbeatView> {
    try {
      await this.client.schedule.getHandle(heartbeatScheduleId(agentId, id)).pause(note ?? 'paused through the API');
    } catch (err) {
      throw notFoundOr(err, id);
    }
    return this.get(agentId, id);
  }

  /** Unpausing resets the circuit breaker's count. */
  async unpause(agentId: string, id: string, note?: string): Promise<HeartbeatView> {
    const scheduleId = heartbeatScheduleId(agentId, id);
    try {
      await this.client.schedule.getHandle(scheduleId).unpause(note ?? 'unpaused through the API');
    } catch (err) {
      throw notFoundOr(err, id);
    }
    await resetFailures(this.db, scheduleId);
    return this.get(agentId, id);
  }

  /** Runs it now (the schedule's overlap policy applies). */
  async trigger(agentId: string, id: string): Promise<void> {
    try {
      await this.client.schedule.getHandle(heartbeatScheduleId(agentId, id)).trigger();
    } catch (err) {
      throw notFoundOr(err, id);
    }
  }

  async runs(agentId: string, id: string, limit: number, ui: UiLinkOptions): Promise<RunSummary[]> {
    await this.describe(agentId, id);
    return listRuns(this.client, { agent: agentId, conversation: id, type: HEARTBEAT_PROCESS }, limit, ui);
  }

  /**
   * Makes the config-managed schedules match the config: creates missing ones, updates the others,
   * deletes config-managed schedules no longer in the config. API- and tool-created ones are left alone.
   */
  async reconcileConfig(): Promise<{ created: string[]; updated: string[]; removed: string[] }> {
    const result = { created: [] as string[], updated: [] as string[], removed: [] as string[] };
    const wanted = new Map(this.config.heartbeats.definitions.map((d) => [heartbeatScheduleId(d.agentId, d.id), d]));
    for (const [scheduleId, def] of wanted) {
      try {
        await this.client.schedule.create(this.scheduleOptions(def));
        result.created.push(scheduleId);
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        const current = await this.describe(def.agentId, def.id).catch(() => undefined);
        // An id taken by an API- or tool-made heartbeat is not ours to overwrite.
        if (current && current.memo?.source !== 'config') continue;
        await this.update(def);
        result.updated.push(scheduleId);
      }
    }
    for await (const s of this.client.schedule.list()) {
      if (!s.scheduleId.startsWith('heartbeat:') || wanted.has(s.scheduleId) || s.memo?.source !== 'config') continue;
      try {
        await this.client.schedule.getHandle(s.scheduleId).delete();
        await resetFailures(this.db, s.scheduleId);
        result.removed.push(s.scheduleId);
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      }
    }
    return result;
  }
}

export function definitionOf(d: ScheduleDescription): HeartbeatDefinition {
  const input = d.action.args?.[0] as HeartbeatWorkflowInput | undefined;
  if (!input?.definition) throw new HeartbeatError('not_found', `schedule ${d.scheduleId} is not a heartbeat`);
  return input.definition;
}

function viewOf(d: ScheduleDescription, failures?: { count: number; lastError: string | null }): HeartbeatView {
  return {
    ...definitionOf(d),
    scheduleId: d.scheduleId,
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
    ...(d.state.remainingActions !== undefined ? { remainingActions: d.state.remainingActions } : {}),
    consecutiveFailures: failures?.count ?? 0,
    ...(failures?.lastError ? { lastError: failures.lastError } : {}),
    nextRunTimes: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.slice(-10).map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
      runId: a.action.workflow.firstExecutionRunId,
    })),
  };
}

function notFoundOr(err: unknown, id: string): unknown {
  if (err instanceof ScheduleNotFoundError) return new HeartbeatError('not_found', `unknown heartbeat "${id}"`, 'id');
  return err;
}

/** The server's refusal of a spec (e.g. a cron expression it cannot parse) is the caller's error. */
function asInvalid(err: unknown): unknown {
  const e = err as { code?: number; message?: string };
  if (e?.code === 3 /* INVALID_ARGUMENT */) return new HeartbeatError('invalid', `Temporal refused the schedule: ${e.message ?? 'invalid argument'}`, 'cron');
  return err;
}
