/**
 * The task queues of one Spacebot deployment, all derived from the configured one (`[temporal]
 * task_queue`, tests use random ones). Workflow tasks and bookkeeping activities stay on it; each
 * kind of activity work has a queue of its own, polled by a Worker with its own slots
 * (lib/runtime/worker.ts), so one kind can never take the slots another needs: a 1,000-chunk
 * ingestion fills the background queue, not the slots of a chat reply's LLM call or delivery.
 */
export const ACTIVITY_QUEUE_KINDS = ['llm', 'delivery', 'tools', 'background'] as const;
export type ActivityQueueKind = (typeof ACTIVITY_QUEUE_KINDS)[number];

/** `<task queue>-<kind>`: e.g. `spacebot-llm`. */
export function activityTaskQueue(taskQueue: string, kind: ActivityQueueKind): string {
  return `${taskQueue}-${kind}`;
}
