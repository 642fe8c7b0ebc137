import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index.js';
import { createToolsWorker } from './tools-worker.js';
import { workerDeploymentOptions } from '../temporal/worker-versioning.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** The workflows entry: the .ts source under tsx and jest, the compiled .js under dist/. */
export function workflowsPath(): string {
  const base = path.resolve(HERE, '../../workflows/index');
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
}

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (tests bundle once per file); else the workflows are bundled at start. */
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
 * Spacebot's Temporal workers in one process: the main one runs every workflow and activity on the
 * configured task queue; a second (unless a tools service runs them elsewhere) polls
 * `<task queue>-tools` for workers' task tools (shell, files), so long tool runs never take the slots
 * that conversations need, and can be scaled apart.
 */
export class SpacebotWorker {
  private running?: Promise<void>;

  constructor(
    readonly main: Worker,
    readonly tools?: Worker,
  ) {}

  private get workers(): Worker[] {
    return this.tools ? [this.main, this.tools] : [this.main];
  }

  /** Runs both until shutdown; either one failing stops the other. */
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

export async function createSpacebotWorker(options: WorkerOptions): Promise<SpacebotWorker> {
  const activities = createActivities(options.deps);
  // Every Worker of the process joins the Worker Deployment under this build (docs/runs.md#versioned-deploys).
  const common = { connection: options.connection, namespace: options.namespace, ...(options.identity ? { identity: options.identity } : {}), ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}), ...workerDeploymentOptions(options.deps.config.temporal.versioning) };
  const main = await Worker.create({
    ...common,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: workflowsPath() }),
    activities,
  });
  if (options.pollTools === false) return new SpacebotWorker(main);
  // runTool stays on the tools queue for workers whose histories predate runWorkspaceTool.
  const tools = await createToolsWorker({
    ...common,
    taskQueue: options.taskQueue,
    config: options.deps.config,
    logger: options.deps.logger,
    // The process's guard: it also knows secrets-store values registered at start.
    ...(options.deps.leakGuard ? { leakGuard: options.deps.leakGuard } : {}),
    extraActivities: { runTool: activities.runTool },
  });
  return new SpacebotWorker(main, tools);
}
