import { z } from 'zod';
import type { ActivityQueueKind } from '../../workflows/task-queues.js';

/**
 * `[worker]` of spacebot.toml: how many tasks of each kind one worker process runs at once, how long
 * a stopping worker lets running activities finish, and how soon a dead worker's cached workflows
 * move to a live one. Schema (plugged into lib/config/schema.ts) and resolution (lib/config/load.ts).
 *
 * ```toml
 * [worker]
 * workflow_task_slots = 40      # workflow tasks at once (every conversation's decisions)
 * main_activity_slots = 50      # the main queue: channel tools, approvals
 * llm_slots = 50                # <queue>-llm: model calls of chats, branches, workers, heartbeats
 * delivery_slots = 50           # <queue>-delivery: replies posted to chat platforms
 * tools_slots = 10              # <queue>-tools: workers' shell and file tools
 * background_slots = 4          # <queue>-background: ingestion, cortex, compaction
 * shutdown_grace_seconds = 30   # on SIGTERM, running activities get this long to finish
 * sticky_queue_timeout_ms = 1000
 * max_cached_workflows = 250    # workflows kept in memory between tasks (others replay on their next)
 * ```
 */
const slots = z.number().int().min(1).max(1000);
const DEFAULT_WORKFLOW_TASK_SLOTS = 40;
export const workerTuningSchema = z
  .object({
    workflow_task_slots: slots.optional(),
    main_activity_slots: slots.optional(),
    llm_slots: slots.optional(),
    delivery_slots: slots.optional(),
    tools_slots: slots.optional(),
    background_slots: slots.optional(),
    shutdown_grace_seconds: z.number().int().min(0).max(3600).optional(),
    sticky_queue_timeout_ms: z.number().int().min(100).max(60_000).optional(),
    // 0 disables the cache (every task replays its history); the SDK refuses 1.
    max_cached_workflows: z.union([z.literal(0), z.number().int().min(2).max(100_000)]).optional(),
  })
  .strict()
  // The SDK refuses a cache smaller than the workflow task slots; say so at config load, by key.
  .refine((w) => !w.max_cached_workflows || w.max_cached_workflows >= (w.workflow_task_slots ?? DEFAULT_WORKFLOW_TASK_SLOTS), {
    path: ['max_cached_workflows'],
    message: 'must be 0 (no cache) or at least workflow_task_slots',
  });

export interface WorkerTuning {
  workflowTaskSlots: number;
  /** Activity slots of the main task queue and of each activity queue (workflows/task-queues.ts). */
  activitySlots: Record<'main' | ActivityQueueKind, number>;
  shutdownGraceMs: number;
  /**
   * How long a workflow task waits on the queue of the worker that has the workflow cached before any
   * worker may take it. The SDK's 10 s is what a conversation sticky to a crashed worker waits on every
   * message; 1 s keeps failover well under 3 s, and a busy live worker pays at most a history replay.
   */
  stickyQueueTimeoutMs: number;
  /**
   * How many workflows (conversations, their children, cortexes) a worker keeps in memory between
   * workflow tasks. The SDK's default grows with the heap limit (about 2,300 on a 24 GiB machine),
   * so 1,000 idle conversations all stay resident; 250 holds the active ones of a busy agent, and an
   * evicted idle conversation pays one replay of its (continue-as-new bounded) history on its next
   * message. Must not be below the workflow task slots (the SDK requires it).
   */
  maxCachedWorkflows: number;
}

export const DEFAULT_WORKER_TUNING: WorkerTuning = {
  workflowTaskSlots: DEFAULT_WORKFLOW_TASK_SLOTS,
  activitySlots: { main: 50, llm: 50, delivery: 50, tools: 10, background: 4 },
  shutdownGraceMs: 30_000,
  stickyQueueTimeoutMs: 1000,
  maxCachedWorkflows: 250,
};

export function resolveWorkerTuning(worker: z.infer<typeof workerTuningSchema> | undefined): WorkerTuning {
  const d = DEFAULT_WORKER_TUNING;
  return {
    workflowTaskSlots: worker?.workflow_task_slots ?? d.workflowTaskSlots,
    activitySlots: {
      main: worker?.main_activity_slots ?? d.activitySlots.main,
      llm: worker?.llm_slots ?? d.activitySlots.llm,
      delivery: worker?.delivery_slots ?? d.activitySlots.delivery,
      tools: worker?.tools_slots ?? d.activitySlots.tools,
      background: worker?.background_slots ?? d.activitySlots.background,
    },
    shutdownGraceMs: (worker?.shutdown_grace_seconds ?? d.shutdownGraceMs / 1000) * 1000,
    stickyQueueTimeoutMs: worker?.sticky_queue_timeout_ms ?? d.stickyQueueTimeoutMs,
    maxCachedWorkflows: worker?.max_cached_workflows ?? d.maxCachedWorkflows,
  };
}
