import type { DataConverter } from '@temporalio/common';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { makeRunWorkspaceTool, type WorkspaceToolDeps } from '../../activities/run-workspace-tool.js';
import { toolsTaskQueueFor } from '../../workflows/channel-settings.js';
import { workerDeploymentOptions } from '../temporal/worker-versioning.js';

export interface ToolsWorkerOptions extends WorkspaceToolDeps {
  connection: NativeConnection;
  namespace: string;
  /** The main task queue; the tools Worker polls `<taskQueue>-tools`. */
  taskQueue: string;
  identity?: string;
  /** The payload codec: with `[temporal] encrypt_history` tool inputs and outputs are encrypted payloads too. */
  dataConverter?: DataConverter;
  /**
   * More activities on the tools queue. Only the all-in-one process passes one: `runTool`, which
   * workers started before the tools service existed still schedule there and which needs the database.
   */
  extraActivities?: Record<string, (...args: never[]) => Promise<unknown>>;
}

/**
 * The Worker polling the tools task queue for workers' shell and file tools (`runWorkspaceTool`).
 * Built the same way in the tools service (workers/tools.ts, no secrets in reach) and inside the
 * all-in-one worker (lib/runtime/worker.ts), so both run exactly the same tool code.
 */
export async function createToolsWorker(options: ToolsWorkerOptions): Promise<Worker> {
  const runWorkspaceTool = makeRunWorkspaceTool(options);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: toolsTaskQueueFor(options.taskQueue),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    // The same deployment and build as the workflow Workers: a workflow's tool activities go to its build.
    ...workerDeploymentOptions(options.config.temporal.versioning),
    activities: { ...options.extraActivities, runWorkspaceTool },
    // `[worker]`: a stopping service lets running commands finish; its slots bound commands at once.
    maxConcurrentActivityTaskExecutions: options.config.worker.activitySlots.tools,
    shutdownGraceTime: options.config.worker.shutdownGraceMs,
  });
}
