import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index.js';
import { activityTaskQueue, type ActivityQueueKind } from '../../workflows/task-queues.js';
import { createToolsWorker } from './tools-worker.js';
import { prebuiltWorkflowBundle } from '../temporal/workflow-bundle.js';
import { workerDeploymentOptions } from '../temporal/worker-versioning.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/**
 * The workflows entry: the .ts source under tsx and jest, the compiled .js under dist/. Versioned
 * workers get the entry that declares each type's versioning behaviour; unversioned ones must not.
 */
export function workflowsPath(versioned = true): string {
  const base = path.resolve(HERE, `../../workflows/${versioned ? 'index' : 'unversioned'}`);
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
}

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (tests bundle once per file); else lib/temporal/workflow-bundle.ts provides one. */
  workflowBundle?: WorkflowBundleOption;
  /** Identity shown in the Temporal UI for this worker. */
  identity?: string;
  /** The payload codec (history encryption); codecs run outside the workflow sandbox, so the bundle is unchanged. */
  dataConverter?: DataConverter;
  /**
   * Poll the tools task queue here too (default true). False when a separate tools service
   * (workers/tools.ts) runs the workers' shell and file tools, away from this process's secrets.
   */
  pollTools?: boolean;
}

/**
 * Spacebot's Temporal workers in one process, one Worker per task queue (workflows/task-queues.ts),
 * each with its own slots (`[worker]`, lib/runtime/worker-tuning.ts): the main one runs every workflow
 * and the activities left on the configured queue; the others poll `<queue>-llm`, `-delivery`,
 * `-background` and (unless a tools service runs them elsewhere) `-tools`, so no kind of work can take
 * the slots another needs: an ingestion never delays a chat reply.
 */
export class SpacebotWorker {
  private running?: Promise<void>;

  constructor(
    readonly main: Worker,
    /** The activity Workers by queue kind. */
    readonly queues: Partial<Record<ActivityQueueKind, Worker>> = {},
  ) {}

  /** The tools Worker, when this process polls the tools queue. */
  get tools(): Worker | undefined {
    return this.queues.tools;
  }

  private get workers(): Worker[] {
    return [this.main, ...Object.values(this.queues)];
  }

  /** Runs all until shutdown; any one failing stops the others. */
  run(): Promise<void> {
    this.running ??= (async () => {
      const runs = this.workers.map((w) => w.run());
      try {
        await Promise.race(runs);
      } finally {
        this.shutdown();
        await Promise.allSettled(runs);
      }
      // Surface the first failure, if any.
      await Promise.all(runs);
    })();
    return this.running;
  }

  shutdown(): void {
    for (const w of this.workers) if (w.getState() === 'RUNNING') w.shutdown();
  }

  getState(): ReturnType<Worker['getState']> {
    return this.main.getState();
  }
}

/** The activity queues every worker process polls; `tools` only without a separate tools service. */
const ACTIVITY_WORKER_KINDS = ['llm', 'delivery', 'background'] as const satisfies readonly ActivityQueueKind[];

export async function createSpacebotWorker(options: WorkerOptions): Promise<SpacebotWorker> {
  const activities = createActivities(options.deps);
  const tuning = options.deps.config.worker;
  // Shared by every Worker of the process (one place to add options).
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    // On SIGTERM running activities may finish (their results recorded) before the process exits.
    shutdownGraceTime: tuning.shutdownGraceMs,
    // Every Worker of the process joins the Worker Deployment under this build (docs/runs.md#versioned-deploys).
    ...workerDeploymentOptions(options.deps.config.temporal.versioning),
  };
  const entry = workflowsPath(options.deps.config.temporal.versioning.enabled);
  const workflowBundle = options.workflowBundle ?? (await prebuiltWorkflowBundle({ entry, dataDir: options.deps.config.dataDir, logger: options.deps.logger }));
  const main = await Worker.create({
    ...common,
    taskQueue: options.taskQueue,
    ...(workflowBundle ? { workflowBundle } : { workflowsPath: entry }),
    // Every activity, also those routed elsewhere: tasks scheduled here before they moved still run.
    activities,
    maxConcurrentWorkflowTaskExecutions: tuning.workflowTaskSlots,
    maxConcurrentActivityTaskExecutions: tuning.activitySlots.main,
    stickyQueueScheduleToStartTimeout: tuning.stickyQueueTimeoutMs,
    maxCachedWorkflows: tuning.maxCachedWorkflows,
  });
  const queues: Partial<Record<ActivityQueueKind, Worker>> = {};
  for (const kind of ACTIVITY_WORKER_KINDS) {
    queues[kind] = await Worker.create({
      ...common,
      taskQueue: activityTaskQueue(options.taskQueue, kind),
      activities,
      maxConcurrentActivityTaskExecutions: tuning.activitySlots[kind],
    });
  }
  if (options.pollTools === false) return new SpacebotWorker(main, queues);
  // runTool stays on the tools queue for workers whose histories predate runWorkspaceTool.
  // Its slots and shutdown grace come from the same `[worker]` section (lib/runtime/tools-worker.ts).
  queues.tools = await createToolsWorker({
    ...common,
    taskQueue: options.taskQueue,
    config: options.deps.config,
    logger: options.deps.logger,
    // The process's guard: it also knows secrets-store values registered at start.
    ...(options.deps.leakGuard ? { leakGuard: options.deps.leakGuard } : {}),
    extraActivities: { runTool: activities.runTool },
  });
  return new SpacebotWorker(main, queues);
}
